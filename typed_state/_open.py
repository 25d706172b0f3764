"""The process-wide store of each URL, opened on first use with the app's settings.

Every store is one entry of ``STORES``: its URL schemes, its module and class
(imported when a URL first names it), and the client library it needs.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from typed_state._backends import Backend, safe_url
from typed_state._config import app_name, settings
from typed_state._errors import ConfigurationError
from typed_state._once import get_or_create


@dataclass(frozen=True)
class StoreKind:
    """One kind of store, as the URLs that name it see it."""

    schemes: tuple[str, ...]
    module: str
    """The module of the backend class, under ``typed_state._backends``."""
    cls: str
    needs: str | None = None
    """The client library it imports (None: the standard library's)."""
    library: str = ""
    """That library's name on PyPI, for the error that asks for it."""
    extra: str | None = None
    """The package extra that installs it."""
    shared: bool = True
    """Whether other processes share it (then it takes the app name and the lease)."""
    example: str = ""
    """How its URLs look, for the error that lists the schemes."""


STORES = (
    StoreKind(("memory",), "_memory", "MemoryBackend", shared=False, example="'memory://'"),
    StoreKind(
        ("sqlite",), "_sqlite", "SQLiteBackend", example="'sqlite:///file.db' (on this host)"
    ),
    StoreKind(
        ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"),
        "_redis",
        "RedisBackend",
        needs="redis",
        library="redis-py",
        extra="redis",
        example="'redis://', 'rediss://' (TLS), 'unix://' (a socket), 'redis+sentinel://'",
    ),
    StoreKind(
        ("postgresql", "postgres"),
        "_postgres",
        "PostgresBackend",
        needs="psycopg",
        library="psycopg",
        extra="postgres",
        example="'postgresql://user:password@host/db'",
    ),
)
"""Every store typed_state has; a URL's scheme picks one."""

_BACKENDS: dict[str, Backend] = {}
_LOCK = threading.Lock()


def backend_for(url: str) -> Backend:
    """The process-wide backend for ``url``, created on first use."""
    return get_or_create(_BACKENDS, url, _LOCK, lambda: _create(url))


def _create(url: str) -> Backend:
    scheme = urlsplit(url).scheme
    kind = next((kind for kind in STORES if scheme in kind.schemes), None)
    if kind is None:
        raise ConfigurationError(
            f"unsupported typed_state URL {safe_url(url)!r}: the supported schemes are "
            + ", ".join(kind.example for kind in STORES)
        )
    if kind.needs is not None and importlib.util.find_spec(kind.needs) is None:
        # Only the library's absence: an ImportError of our own must show as itself.
        raise ConfigurationError(
            f"the typed_state URL {safe_url(url)!r} needs {kind.library}: "
            f"pip install 'streamlit-typed-state[{kind.extra}]'"
        )
    module = importlib.import_module(f"typed_state._backends.{kind.module}")
    cls = cast("type[Backend]", getattr(module, kind.cls))
    if not kind.shared:
        return cls()
    return cls(url, app_name(url), lock_lease=settings().lock_lease)  # type: ignore[call-arg]


def reset_backends() -> None:
    """Drop every backend and what it holds (tests)."""
    with _LOCK:
        for backend in _BACKENDS.values():
            backend.close()
        _BACKENDS.clear()
