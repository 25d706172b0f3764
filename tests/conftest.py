from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from tests.stores import PostgresServer, PostgresStore, RedisStore, SQLiteStore, Store
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session's own (stopped and removed at its end)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The tests' PostgreSQL selected through TYPED_STATE_URL, app name "tests"; its
    schema dropped after the test."""
    monkeypatch.setenv("TYPED_STATE_URL", postgres_server.url)
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    yield postgres_server.url
    testing.reset()
    with contextlib.suppress(Exception):  # a test may have stopped the server
        PostgresStore(postgres_server.url).clear()


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


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Store]:
    """Each store that processes share (Redis, an SQLite file, PostgreSQL), selected
    through TYPED_STATE_URL with the app name "tests"; emptied after the test."""
    chosen: Store
    if request.param == "redis":
        chosen = RedisStore(request.getfixturevalue("redis_url"))
    elif request.param == "postgres":
        chosen = PostgresStore(request.getfixturevalue("postgres_url"))
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


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def where(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The store the test's states use (through TYPED_STATE_URL)."""
    if request.param in ("redis", "postgres"):
        yield request.getfixturevalue(f"{request.param}_url")
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        monkeypatch.setenv("TYPED_STATE_URL", url)
        monkeypatch.setenv("TYPED_STATE_APP", "tests")
        settings.cache_clear()
        yield url
        return
    yield "memory://"
