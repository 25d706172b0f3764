"""The process-wide store of each URL, opened on first use with the app's settings."""

from __future__ import annotations

import importlib.util
import threading
from urllib.parse import urlsplit

from typed_state._backends import Backend, safe_url
from typed_state._backends._memory import MemoryBackend
from typed_state._config import app_name, settings
from typed_state._errors import ConfigurationError
from typed_state._once import get_or_create

_BACKENDS: dict[str, Backend] = {}
_LOCK = threading.Lock()


def backend_for(url: str) -> Backend:
    """The process-wide backend for ``url``, created on first use."""
    return get_or_create(_BACKENDS, url, _LOCK, lambda: _create(url))


def _create(url: str) -> Backend:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"):
        if importlib.util.find_spec("redis") is None:
            # Only redis-py's absence: an ImportError of our own must show as itself.
            raise ConfigurationError(
                f"the typed_state URL {safe_url(url)!r} needs redis-py: "
                "pip install 'streamlit-typed-state[redis]'"
            )
        from typed_state._backends._redis import RedisBackend  # redis-py is optional

        return RedisBackend(url, app_name(url), lock_lease=settings().lock_lease)
    if scheme == "sqlite":
        from typed_state._backends._sqlite import SQLiteBackend

        return SQLiteBackend(url, app_name(url), lock_lease=settings().lock_lease)
    raise ConfigurationError(
        f"unsupported typed_state URL {safe_url(url)!r}: the supported schemes are 'memory://', "
        "'sqlite:///file.db' (a file on this host), 'redis://', 'rediss://' (TLS), "
        "'unix://' (a Redis socket) and 'redis+sentinel://' (a master that Sentinel names)"
    )


def reset_backends() -> None:
    """Drop every backend and what it holds (tests)."""
    with _LOCK:
        for backend in _BACKENDS.values():
            backend.close()
        _BACKENDS.clear()
