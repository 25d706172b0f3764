from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.stores import RedisStore, SQLiteStore, Store
from typed_state import testing
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from typed_state._backends._shared import SharedBackend


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


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), pytest.param("sqlite")])
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Store]:
    """Each store that processes share (Redis, an SQLite file), selected through
    TYPED_STATE_URL with the app name "tests"; emptied after the test."""
    chosen: Store
    if request.param == "redis":
        chosen = RedisStore(request.getfixturevalue("redis_url"))
    else:
        chosen = SQLiteStore(tmp_path / "state.db")
        monkeypatch.setenv("TYPED_STATE_URL", chosen.url)
        monkeypatch.setenv("TYPED_STATE_APP", "tests")
        settings.cache_clear()
    yield chosen
    testing.reset()


@pytest.fixture
def peer(store: Store) -> Iterator[SharedBackend]:
    """The store of ``store`` seen from "another process": a backend of its own."""
    backend = store.new()
    yield backend
    backend.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def where(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The store the test's states use (through TYPED_STATE_URL)."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_url")
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        monkeypatch.setenv("TYPED_STATE_URL", url)
        monkeypatch.setenv("TYPED_STATE_APP", "tests")
        settings.cache_clear()
        yield url
        return
    yield "memory://"
