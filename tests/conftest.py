from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from typed_state import testing
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """Every test starts with no states, subscriptions or cached settings."""
    testing.reset()
    yield
    testing.reset()


@pytest.fixture
def redis_url(redis_proc: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean Redis (pytest-redis's, one per test session) selected through
    TYPED_STATE_URL, app name "tests"; emptied after the test."""
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    monkeypatch.setenv("TYPED_STATE_URL", url)
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    yield url
    testing.reset()
    if redis_proc.running():
        import redis

        client = redis.Redis.from_url(url)
        client.flushall()
        client.close()


@pytest.fixture
def other(redis_url: str) -> Iterator[Any]:
    """The Redis store of ``redis_url`` seen from "another process": a RedisBackend of its own."""
    from typed_state._backends._redis import RedisBackend

    backend = RedisBackend(redis_url, "tests")
    yield backend
    backend.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[Any]:
    """A plain redis-py client on ``redis_url``, to look at what is stored."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
