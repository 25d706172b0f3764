"""The PostgreSQL store: state that survives restarts, shared by every host that
reaches the database, written in transactions.

The tables of the SQL stores (see ``_sql.py``) live in a schema of their own,
``typed_state`` unless the URL says ``?schema=name``, made on first use.  A write
commits, and only then, PostgreSQL delivers its ``NOTIFY`` to every process that
``LISTEN``s on the app's channel, in commit order: the notification carries the
change message itself, or, for one over PostgreSQL's payload limit (8,000 bytes),
the id of its row in ``changes``.  A listener that lost its connection reconnects
and re-reads every field its process holds.

Commits are durable (``synchronous_commit`` as the server sets it, ``on`` by
default), except a lease's, a last use's and presence's, which need not survive a
crash.  Leases run on the database's clock, so hosts whose clocks differ agree on
them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import threading
import time
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from typed_state._backends._base import safe_url
from typed_state._backends._sql import SQLBackend
from typed_state._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator, Sequence

    from typed_state._backends._sql import Transaction

_TABLES = {
    "fields": "app TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
    "value TEXT NOT NULL, changes BIGINT NOT NULL, PRIMARY KEY (app, namespace, name)",
    "namespaces": "app TEXT NOT NULL, namespace TEXT NOT NULL, family TEXT, "
    "version BIGINT NOT NULL, used DOUBLE PRECISION, PRIMARY KEY (app, namespace)",
    "changes": "id BIGSERIAL PRIMARY KEY, app TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, "
    "message TEXT NOT NULL",
    "items": "app TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
    "seq BIGINT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (app, namespace, name, seq)",
    "locks": "app TEXT NOT NULL, name TEXT NOT NULL, token TEXT NOT NULL, "
    "expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (app, name)",
    "presence": "app TEXT NOT NULL, grp TEXT NOT NULL, origin TEXT NOT NULL, "
    "until DOUBLE PRECISION NOT NULL, present TEXT NOT NULL, PRIMARY KEY (app, grp, origin)",
}
"""The tables (see ``_sql.py``) and their columns."""

_INDEX = "CREATE INDEX IF NOT EXISTS namespaces_by_use ON namespaces (app, family, used)"

DEFAULT_SCHEMA = "typed_state"
"""The schema the tables live in, unless the URL's ``?schema=`` names another."""

_PAYLOAD_LIMIT = 7900
"""Bytes of a change message sent in its notification; a longer one is read from
``changes`` (PostgreSQL refuses payloads of 8,000 bytes)."""

_CONNECT_TIMEOUT = 5
"""Seconds to wait for the server to accept a connection."""

_PREPARE_LOCK = 0x7479_7065_645F  # "typed_"
"""The advisory lock that orders processes creating the tables at once."""

_CLOCK_CHECK = 60.0
"""Seconds between two readings of the database's clock against this host's."""

_LEASE_LOCK_TIMEOUT = "2s"
"""How long a lease statement waits for a row another write holds (``FOR SHARE``)."""

_LOCK_TIMEOUT = "5s"
"""How long a write waits for a row another write holds (a state's row: the other
write's transaction, a few ms; longer means a stuck server)."""


@functools.lru_cache(maxsize=256)
def _pg(statement: str) -> LiteralString:
    """A statement of ``_sql.py`` (``?`` placeholders) in psycopg's spelling (``%s``)."""
    return statement.replace("?", "%s")


class _Transaction:
    """A psycopg connection inside a transaction, as ``Transaction``."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, statement: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._conn.execute(_pg(statement), parameters)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]], /) -> Any:
        with self._conn.cursor() as cursor:
            cursor.executemany(_pg(statement), list(rows))


def parse_url(url: str) -> tuple[str, str]:
    """The libpq connection URL (``postgresql://``) and the schema of a typed_state URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = dict(query).get("schema", DEFAULT_SCHEMA)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise ConfigurationError(
            f"invalid schema {schema!r} in the typed_state URL {safe_url(url)!r}: a schema "
            "name is letters, digits and underscores, not starting with a digit"
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")), schema


class PostgresBackend(SQLBackend):
    """Values in PostgreSQL tables, cached in this process and kept fresh by LISTEN/NOTIFY."""

    store_name = "PostgreSQL"
    errors = (psycopg.Error,)
    share_lock = " FOR SHARE"

    def __init__(
        self, url: str, app: str, *, lock_lease: float = 10.0, renew_locks: bool = True
    ) -> None:
        super().__init__(url, app, lock_lease=lock_lease, renew_locks=renew_locks)
        self._conninfo, self.schema = parse_url(url)
        digest = hashlib.sha1(f"{self.schema}/{app}".encode()).hexdigest()[:20]
        self._channel = f"typed_state_{digest}"
        """The app's NOTIFY channel (a channel name is at most 63 bytes; an app's is not)."""
        self._db: psycopg.Connection[Any] | None = None
        self._db_mutex = threading.RLock()
        """One connection per process for reads and writes, one transaction at a time;
        the listener has its own."""
        self._prepared = False
        self._writes = 0
        self._leases: psycopg.Connection[Any] | None = None
        """The connection of the writes that need not survive a crash (leases, last
        use, presence): autocommit, ``synchronous_commit = off``, one statement each."""
        self._leases_mutex = threading.RLock()
        self._offset: float | None = None
        """The database's clock minus this host's ``time.monotonic()``."""
        self._offset_at = 0.0

    @property
    def address(self) -> str:
        # The query may hold a password (``?password=``): left out.
        return safe_url(self.url.partition("?")[0])

    # -- the connection ----------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        """A connection in autocommit mode (transactions are explicit), on the schema."""
        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT)
        try:
            if not self._prepared:
                self._prepare(conn)
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        """Make the schema and the tables unless they exist, and check that this user may
        use them (a ``ConfigurationError`` naming what is missing)."""
        schema = sql.Identifier(self.schema)
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PREPARE_LOCK,))
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                for table, columns in _TABLES.items():
                    conn.execute(
                        sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
                            schema, sql.Identifier(table), sql.SQL(columns)
                        )
                    )
                conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
                conn.execute(_INDEX)
        except psycopg.errors.InsufficientPrivilege as exc:
            # CREATE refused: fine if the tables exist and this user may use them.
            if not self._usable(conn):
                raise self._refused_use(exc) from exc
        if not self._usable(conn):
            raise self._refused_use(None)
        self._prepared = True

    def _usable(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether every table exists and this user may read and write it."""
        names = [f"{self.schema}.{table}" for table in _TABLES]
        (usable,) = conn.execute(
            "SELECT bool_and(CASE WHEN to_regclass(t) IS NULL THEN false "
            "ELSE has_table_privilege(t, 'SELECT, INSERT, UPDATE, DELETE') END) "
            "AND has_sequence_privilege(%s, 'USAGE') FROM unnest(%s::text[]) AS t",
            (f"{self.schema}.changes_id_seq", names),
        ).fetchone() or (False,)
        return bool(usable)

    def _refused_use(self, exc: Exception | None) -> ConfigurationError:
        why = f" ({str(exc).strip()})" if exc is not None else ""
        return ConfigurationError(
            f"the PostgreSQL user of {self.address} may not use the schema {self.schema!r}"
            f"{why}: typed_state needs its tables ({', '.join(_TABLES)}) there, made by itself "
            f"on first use or by an administrator. Grant it, for example: GRANT CREATE ON "
            f"DATABASE <db> TO <user>; or, with the tables made: GRANT USAGE ON SCHEMA "
            f"{self.schema} TO <user>; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN "
            f"SCHEMA {self.schema} TO <user>; GRANT USAGE ON ALL SEQUENCES IN SCHEMA "
            f"{self.schema} TO <user>. Nothing was changed."
        )

    def _conn(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = self._connect()
            self._db.execute(f"SET lock_timeout = '{_LOCK_TIMEOUT}'")
        return self._db

    def _broken(self, *, leases: bool = False) -> None:
        """Close a connection after a failure (the main one, or the leases'): the next use
        connects again."""
        conn = self._leases if leases else self._db
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        if leases:
            self._leases = None
        else:
            self._db = None

    @contextlib.contextmanager
    def _transaction(
        self, action: str, *, write: bool = True, durable: bool = True
    ) -> Iterator[Transaction]:
        if write and not durable:
            # A lease, a last use, presence: each statement its own transaction, committed
            # without waiting for the disk: one round trip where a transaction took five.
            with self._leases_mutex:
                try:
                    if self._leases is None or self._leases.closed:
                        self._leases = self._connect()
                        self._leases.execute("SET synchronous_commit = off")
                        self._leases.execute(f"SET lock_timeout = '{_LEASE_LOCK_TIMEOUT}'")
                    conn = self._leases
                except psycopg.Error as exc:
                    self._broken(leases=True)
                    raise self._failed("open", exc) from exc
                try:
                    yield _Transaction(conn)
                except psycopg.Error as exc:
                    if conn.broken or isinstance(exc, psycopg.OperationalError):
                        self._broken(leases=True)
                    raise self._failed(action, exc) from exc
            return
        with self._db_mutex:
            try:
                conn = self._conn()
            except psycopg.Error as exc:
                self._broken()
                raise self._failed("open", exc) from exc
            try:
                # BEGIN says how in the same round trip; a row another write holds is
                # waited for at most _LOCK_TIMEOUT (the connection's lock_timeout).
                conn.execute(
                    "BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                )
                try:
                    yield _Transaction(conn)
                except BaseException:
                    if not conn.broken:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                if conn.broken or isinstance(exc, psycopg.OperationalError):
                    self._broken()
                raise self._failed(action, exc) from exc

    # -- what the SQL tables need of PostgreSQL ----------------------------------------

    def _log(self, db: Transaction, message: str) -> None:
        payload = message
        if len(message.encode()) > _PAYLOAD_LIMIT:
            now = time.time()
            (change_id,) = db.execute(
                "INSERT INTO changes (app, at, message) VALUES (?, ?, ?) RETURNING id",
                (self.app, now, message),
            ).fetchone()
            payload = f"@{change_id}"
            self._writes += 1
            if self._writes % 200 == 0:
                self._prune(db, now)
        # Delivered when the transaction commits, never if it rolls back.
        db.execute("SELECT pg_notify(?, ?)", (self._channel, payload))

    def _now(self, db: Transaction) -> float:
        # The database's clock, which every host agrees on, read once a minute: between
        # two readings this host's monotonic clock counts (no round trip per lease).
        if self._offset is None or time.monotonic() - self._offset_at > _CLOCK_CHECK:
            before = time.monotonic()
            (found,) = db.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
            after = time.monotonic()
            self._offset = float(found) - (before + after) / 2
            self._offset_at = after
        return time.monotonic() + self._offset

    # -- other processes' writes ------------------------------------------------------

    def _feed(self) -> Generator[str | None, None, None]:
        conn = self._connect()
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            yield None
            while not self._stop.is_set():
                # Each as it comes; the connection is psycopg's own meanwhile (its lock).
                for notify in conn.notifies(timeout=0.5):
                    yield self._message_of(notify.payload)
                yield None
        finally:
            conn.close()

    def _message_of(self, payload: str) -> str | None:
        """The change message a notification carries, or names by its row in ``changes``
        (read on the main connection: the listener's is busy following)."""
        if not payload.startswith("@"):
            return payload
        with self._transaction("read a change message", write=False) as db:
            row = db.execute(
                "SELECT message FROM changes WHERE app = ? AND id = ?", (self.app, int(payload[1:]))
            ).fetchone()
        if row is None:  # pruned: this process did not follow for a minute
            self._resync()
            return None
        return str(row[0])

    def close(self) -> None:
        super().close()
        with self._db_mutex, self._leases_mutex:
            self._broken()
            self._broken(leases=True)
