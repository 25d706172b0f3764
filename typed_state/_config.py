"""Where typed_state's settings come from: the environment, then secrets.toml.

``TYPED_STATE_URL`` / ``[typed_state] url`` choose the backend;
``TYPED_STATE_MIN_RERUN_INTERVAL`` / ``[typed_state] min_rerun_interval`` set the
shortest time between two pushed re-runs of one session, in seconds.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from typed_state import _streamlit
from typed_state._errors import ConfigurationError

MEMORY_URL = "memory://"


class StateConfig(ConfigDict, total=False):
    """``model_config`` of a SharedState: Pydantic's ConfigDict plus typed_state's keys.

    ::

        class Audit(SharedState):
            model_config = StateConfig(typed_state_url="redis://audit-host:6379/0")
            entries: list[str] = []
    """

    typed_state_url: str
    """The backend of this class, instead of the process-wide ``TYPED_STATE_URL``."""


class Settings(BaseModel):
    """typed_state's process-wide settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = MEMORY_URL
    min_rerun_interval: float = Field(0.1, ge=0.0, le=60.0)


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
