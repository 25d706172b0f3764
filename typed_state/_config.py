"""Where typed_state's settings come from: the environment, then secrets.toml.

``TYPED_STATE_URL`` / ``[typed_state] url`` choose the backend (``memory://``,
``sqlite:///state.db``, ``redis://host:6379/0``);
``TYPED_STATE_MIN_RERUN_INTERVAL`` / ``[typed_state] min_rerun_interval`` set the
shortest time between two pushed re-runs of one session, in seconds;
``TYPED_STATE_APP`` / ``[typed_state] app`` name the app in a shared store and
``TYPED_STATE_LOCK_LEASE`` / ``[typed_state] lock_lease`` bound how long a Redis
or SQLite lock outlives a holder that never releases it; ``TYPED_STATE_GC_FREEZE=0`` /
``[typed_state] gc_freeze = false`` stops typed_state from taking a server's
long-lived heap out of Streamlit's per-run garbage collections (on by default).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from typed_state import _streamlit
from typed_state._backends._base import safe_url
from typed_state._errors import ConfigurationError

MEMORY_URL = "memory://"


class StateConfig(ConfigDict, total=False):
    """``model_config`` of a SharedState: Pydantic's ConfigDict plus typed_state's keys.

    ```python
    class Audit(SharedState):
        model_config = StateConfig(typed_state_url="redis://audit-host:6379/0")
        entries: list[str] = []

    class Room(SharedState):  # Room.get(key=...): rooms nobody visits for a day go
        model_config = StateConfig(typed_state_ttl=86_400, typed_state_max_keys=1_000)
    ```
    """

    typed_state_url: str
    """The backend of this class, instead of the process-wide ``TYPED_STATE_URL``."""
    typed_state_ttl: float
    """For a family (``get(key=...)``): seconds after which a member nobody used
    (read with ``get`` or written) is deleted; one that a live session shows never is."""
    typed_state_max_keys: int
    """For a family: past this many members, the least recently used one is deleted."""


class Settings(BaseModel):
    """typed_state's process-wide settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = MEMORY_URL
    min_rerun_interval: float = Field(0.1, ge=0.0, le=60.0)
    app: str | None = Field(None, min_length=1, pattern=r"^[^\s{}*?\[\]]+$")
    """The name under which a shared store (Redis, SQLite) keeps this app's states;
    required by those stores (see ``app_name``)."""
    lock_lease: float = Field(10.0, gt=0.0)
    """Seconds a field lock of a shared store lasts if its holder never releases it."""
    gc_freeze: bool | None = None
    """Freeze the long-lived heap (``gc.freeze()``, refrozen now and then) out of
    Streamlit's per-run collections: None (the default) in a server only, True in
    any process, False never; see ``typed_state._gc``."""


@cache
def settings() -> Settings:
    """The settings in force, read once per process."""
    raw: dict[str, object] = {}
    section = _streamlit.secrets_section("typed_state")
    raw.update(section)
    for name in Settings.model_fields:
        value = os.environ.get(f"TYPED_STATE_{name.upper()}")
        if value:
            raw[name] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid typed_state settings (environment TYPED_STATE_* or "
            f"[typed_state] in secrets.toml): {exc}"
        ) from exc


def app_name(url: str) -> str:
    """This app's name in the shared store at ``url``: the setting, which a shared store
    requires.

    No default can tell two apps apart whose main scripts share a folder and file name
    (``/srv/a/dash/app.py``, ``/srv/b/dash/app.py``) and yet let replicas installed at
    different paths agree: a guess would let two apps read each other's states.
    """
    configured = settings().app
    if configured:
        return configured
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("app")
    earlier = f"{script.resolve().parent.name}/{script.stem}"
    raise ConfigurationError(
        f"typed_state needs this app's name for the shared store {safe_url(url)}: set "
        'TYPED_STATE_APP=<name> in the environment, or app = "<name>" under [typed_state] '
        "in .streamlit/secrets.toml. Every process of this app (its replicas, its workers "
        "and jobs) uses the same name, and every other app on this store another one. "
        "Upgrading from a typed_state that named apps by their main script's folder and "
        f"file? This app was {earlier!r}: TYPED_STATE_APP={earlier} finds its stored states."
    )
