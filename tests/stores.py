"""The stores shared by processes, as the tests see them: a URL, a new backend
standing for another process, and a look at (or a hand in) what is stored."""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typed_state._backends._shared import SharedBackend


class Store(ABC):
    """One shared store under test; ``app`` is the app name the tests run as."""

    name: str
    app = "tests"

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def new(self, app: str = "tests", **options: Any) -> SharedBackend:
        """A backend of its own on this store: another process."""

    @abstractmethod
    def stored(self, namespace: str, field: str) -> str | None:
        """The JSON stored for a field, None if nothing is."""

    @abstractmethod
    def put(self, namespace: str, values: dict[str, str]) -> None:
        """Store raw JSON for these fields, as a process with another schema (or a bug) would."""

    @abstractmethod
    def namespaces(self) -> list[str]:
        """Every state the app has stored (its namespaces)."""

    @abstractmethod
    def clear(self) -> None:
        """Empty the store (no backend of this process may be open on it)."""

    @abstractmethod
    def count(self, app: str = "tests") -> int:
        """How many namespaces the app has stored."""

    @abstractmethod
    def end_lease(self, lock: str) -> None:
        """Make the lease of the lock named ``lock`` run out now, as time would."""

    @abstractmethod
    def lease_end(self, lock: str) -> float:
        """When (``time.time()``) the lease of the lock named ``lock`` runs out."""

    @abstractmethod
    def items(self, namespace: str, field: str) -> int | None:
        """How many items a list field kept as items holds; None if it is not kept
        so (stored as JSON, or not stored)."""


class RedisStore(Store):
    name = "redis"

    def new(self, app: str = "tests", **options: Any) -> SharedBackend:
        from typed_state._backends._redis import RedisBackend

        return RedisBackend(self.url, app, **options)

    def _client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def stored(self, namespace: str, field: str) -> str | None:
        client = self._client()
        try:
            raw = client.hget(f"typed_state:{self.app}:state:{namespace}", field)
        finally:
            client.close()
        return None if raw is None else bytes(raw).decode()

    def put(self, namespace: str, values: dict[str, str]) -> None:
        client = self._client()
        try:
            client.hset(f"typed_state:{self.app}:state:{namespace}", mapping=values)
        finally:
            client.close()

    def namespaces(self) -> list[str]:
        client = self._client()
        prefix = f"typed_state:{self.app}:state:"
        try:
            return sorted(k.decode()[len(prefix) :] for k in client.scan_iter(match=prefix + "*"))
        finally:
            client.close()

    def clear(self) -> None:
        client = self._client()
        try:
            client.flushall()
        finally:
            client.close()

    def count(self, app: str = "tests") -> int:
        client = self._client()
        try:
            return len(client.keys(f"typed_state:{app}:state:*"))
        finally:
            client.close()

    def end_lease(self, lock: str) -> None:
        client = self._client()
        try:
            client.delete(lock)  # what expiry does
        finally:
            client.close()

    def lease_end(self, lock: str) -> float:
        client = self._client()
        try:
            return time.time() + int(client.pttl(lock)) / 1000
        finally:
            client.close()

    def items(self, namespace: str, field: str) -> int | None:
        client = self._client()
        try:
            key = f"typed_state:{self.app}:items:{namespace}:{field}"
            if client.hget(f"typed_state:{self.app}:state:{namespace}", field) != b"L":
                assert client.exists(key) == 0  # no list left behind
                return None
            return int(client.llen(key))
        finally:
            client.close()


class SQLiteStore(Store):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path

    def new(self, app: str = "tests", **options: Any) -> SharedBackend:
        from typed_state._backends._sqlite import SQLiteBackend

        return SQLiteBackend(self.url, app, **options)

    def _query(self, sql: str, *args: Any) -> list[Any]:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def stored(self, namespace: str, field: str) -> str | None:
        rows = self._query(
            "SELECT value FROM fields WHERE app = ? AND namespace = ? AND name = ?",
            self.app,
            namespace,
            field,
        )
        return rows[0][0] if rows else None

    def put(self, namespace: str, values: dict[str, str]) -> None:
        backend = self.new()
        backend.members("")  # opens the file: the tables exist
        backend.close()
        self._query(
            "INSERT OR IGNORE INTO namespaces VALUES (?, ?, NULL, 1, NULL)", self.app, namespace
        )
        for name, raw in values.items():
            self._query(
                "INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?, 1)",
                self.app,
                namespace,
                name,
                raw,
            )

    def clear(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def count(self, app: str = "tests") -> int:
        return int(self._query("SELECT count(*) FROM namespaces WHERE app = ?", app)[0][0])

    def namespaces(self) -> list[str]:
        rows = self._query("SELECT namespace FROM namespaces WHERE app = ?", self.app)
        return sorted(namespace for (namespace,) in rows)

    def end_lease(self, lock: str) -> None:
        self._query("UPDATE locks SET expires = 0 WHERE app = ? AND name = ?", self.app, lock)

    def lease_end(self, lock: str) -> float:
        rows = self._query("SELECT expires FROM locks WHERE app = ? AND name = ?", self.app, lock)
        return float(rows[0][0]) if rows else 0.0

    def items(self, namespace: str, field: str) -> int | None:
        key = (self.app, namespace, field)
        rows = self._query(
            "SELECT count(*) FROM items WHERE app = ? AND namespace = ? AND name = ?", *key
        )
        if self.stored(namespace, field) != "L":
            assert rows[0][0] == 0  # no rows left behind
            return None
        return int(rows[0][0])


def redis_dump(redis_proc: Any) -> Path:
    """The RDB file pytest-redis's redis-server writes at shutdown and loads at start:
    it keeps Redis's default ``save`` rules, so a plain stop/start keeps everything."""
    import redis

    client = redis.Redis(host=redis_proc.host, port=redis_proc.port)
    try:
        folder = str(client.config_get("dir")["dir"])
        return Path(folder) / str(client.config_get("dbfilename")["dbfilename"])
    finally:
        client.close()


def restart_redis_empty(redis_proc: Any) -> None:
    """Kill pytest-redis's redis-server and start it again without its data."""
    dump = redis_dump(redis_proc)
    redis_proc.stop()
    dump.unlink(missing_ok=True)
    redis_proc.start()
