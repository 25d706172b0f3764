"""The stores shared by processes, as the tests see them: a URL, a new backend
standing for another process, and a look at (or a hand in) what is stored."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
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


class SQLStore(Store):
    """What the SQL stores' tests read and write alike: the same tables, statements in
    ``?`` form (``_query`` runs them)."""

    insert_namespace: str
    """Adds a namespace row unless it exists."""
    upsert_field: str
    """Stores a field's value, replacing any."""

    @abstractmethod
    def _query(self, statement: str, *args: Any) -> list[Any]: ...

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
        backend.members("")  # opens the store: the tables exist
        backend.close()
        self._query(self.insert_namespace, self.app, namespace)
        for name, raw in values.items():
            self._query(self.upsert_field, self.app, namespace, name, raw)

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
        rows = self._query(
            "SELECT count(*) FROM items WHERE app = ? AND namespace = ? AND name = ?",
            self.app,
            namespace,
            field,
        )
        if self.stored(namespace, field) != "L":
            assert rows[0][0] == 0  # no rows left behind
            return None
        return int(rows[0][0])


class SQLiteStore(SQLStore):
    name = "sqlite"
    insert_namespace = "INSERT OR IGNORE INTO namespaces VALUES (?, ?, NULL, 1, NULL)"
    upsert_field = "INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?, 1)"

    def __init__(self, path: Path) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path

    def new(self, app: str = "tests", **options: Any) -> SharedBackend:
        from typed_state._backends._sqlite import SQLiteBackend

        return SQLiteBackend(self.url, app, **options)

    def _query(self, statement: str, *args: Any) -> list[Any]:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            return db.execute(statement, args).fetchall()
        finally:
            db.close()

    def clear(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


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


class SentinelSet:
    """A master, a replica and one sentinel (``redis-server --sentinel``) on free ports,
    as the common Kubernetes Redis runs: started in ``folder``, stopped at the end."""

    SERVICE = "mymaster"

    def __init__(self, folder: Path) -> None:
        from tests.harness.server import free_port

        self.folder = folder
        self.ports = {"master": free_port(), "replica": free_port(), "sentinel": free_port()}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, query: str = "") -> str:
        return f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{self.SERVICE}/0{query}"

    def start(self, role: str) -> None:
        port = self.ports[role]
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        # A replica's sync starts at once (Redis waits 5 s by default for more replicas).
        args += ["--appendonly", "no", "--dir", str(self.folder), "--repl-diskless-sync-delay", "0"]
        if role == "replica":
            args += ["--replicaof", "127.0.0.1", str(self.ports["master"])]
        if role == "sentinel":
            config = self.folder / "sentinel.conf"
            if not config.exists():
                master = self.ports["master"]
                # Sentinel's default is 30 s; below a few seconds a loaded machine makes it
                # take the promoted replica for dead too, and promote the old master
                # restarted empty: a second failover that loses everything.
                config.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                    f"sentinel monitor {self.SERVICE} 127.0.0.1 {master} 1\n"
                    f"sentinel down-after-milliseconds {self.SERVICE} 5000\n"
                    f"sentinel failover-timeout {self.SERVICE} 5000\n"
                )
            args = ["redis-server", str(config), "--sentinel"]
        log = (self.folder / f"{role}.log").open("ab")
        self.processes[role] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        import redis

        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self, role: str) -> None:
        process = self.processes.pop(role)
        process.kill()
        process.wait(10)

    def master(self) -> tuple[str, int] | None:
        """Where the sentinel says the master is; None while it knows none."""
        from redis.sentinel import MasterNotFoundError, Sentinel

        try:
            found = Sentinel([("127.0.0.1", self.ports["sentinel"])]).discover_master(self.SERVICE)
        except MasterNotFoundError:
            return None
        return str(found[0]), int(found[1])

    def replicas(self, role: str = "master") -> int:
        """How many replicas are in sync with the server of ``role``."""
        import redis

        client = redis.Redis(port=self.ports[role], socket_timeout=1)
        try:
            info: dict[str, Any] = client.info("replication")  # type: ignore[assignment]
        finally:
            client.close()
        return sum(
            1 for k, v in info.items() if k.startswith("slave") and v.get("state") == "online"
        )

    def __enter__(self) -> SentinelSet:
        from tests.waits import wait_until

        for role in ("master", "replica", "sentinel"):
            self.start(role)
        wait_until(lambda: self.replicas() == 1, timeout=30)
        wait_until(lambda: self.master() is not None, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait(10)
        self.processes.clear()


def postgres_bindir() -> Path | None:
    """Where Debian's PostgreSQL server programs are (the newest major), None if absent."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL server of the tests' own: ``initdb`` in a temporary folder, then
    ``pg_ctl``, on a free port of 127.0.0.1, trusting local connections.  PostgreSQL
    refuses to run as root: as root, its programs run as Debian's ``postgres`` user."""

    def __init__(self, *, fsync: bool = False) -> None:
        import pwd
        import shutil
        import socket
        import tempfile

        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="typed_state-pg-"))
        self.data = self.folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.fsync = fsync
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")

    def _run(self, program: str, *args: str | Path) -> None:
        command = [*self.as_user, str(self.bindir / program), *map(str, args)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "log", "-w", "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """kill -9 the server (its children end with it): a crash."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        time.sleep(0.2)  # its backends notice the postmaster's death

    def remove(self) -> None:
        import shutil

        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresStore(SQLStore):
    name = "postgres"
    schema = "typed_state"
    insert_namespace = "INSERT INTO namespaces VALUES (?, ?, NULL, 1, NULL) ON CONFLICT DO NOTHING"
    upsert_field = (
        "INSERT INTO fields VALUES (?, ?, ?, ?, 1) ON CONFLICT (app, namespace, name) "
        "DO UPDATE SET value = excluded.value"
    )

    def new(self, app: str = "tests", **options: Any) -> SharedBackend:
        from typed_state._backends._postgres import PostgresBackend

        return PostgresBackend(self.url, app, **options)

    def _query(self, statement: str, *args: Any) -> list[Any]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {self.schema}")
            cursor = conn.execute(statement.replace("?", "%s"), args)
            return cursor.fetchall() if cursor.description else []

    def clear(self) -> None:
        self._query(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
