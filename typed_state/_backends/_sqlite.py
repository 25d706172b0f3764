"""The SQLite store: state that survives restarts, shared by the processes of one host.

One database file holding the tables of the SQL stores (see ``_sql.py``).  A write
appends its change message to ``changes`` in its own transaction, and every process
polls ``PRAGMA data_version`` (it moves when another connection commits) and reads
the messages after the last one it saw; a process that did not poll for half of
``typed_state._backends._sql.KEEP_CHANGES`` (suspended, stalled) re-reads every
field it holds instead.

The file is in WAL mode with ``synchronous=FULL``: a write that returned is in
the file, and survives a ``kill -9`` of the server or a power cut.  Writes are
``BEGIN IMMEDIATE`` transactions: SQLite takes them one at a time across
processes, each waiting at most ``_BUSY_TIMEOUT`` seconds for the others.
Leases run on this host's wall clock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from typed_state._backends._base import WRITE_DEADLINE, safe_url
from typed_state._backends._sql import KEEP_CHANGES, SQLBackend
from typed_state._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from typed_state._backends._sql import Transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fields (
    app TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    value TEXT NOT NULL, changes INTEGER NOT NULL,
    PRIMARY KEY (app, namespace, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces (
    app TEXT NOT NULL, namespace TEXT NOT NULL, family TEXT,
    version INTEGER NOT NULL, used REAL,
    PRIMARY KEY (app, namespace)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS namespaces_by_use ON namespaces (app, family, used);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, at REAL NOT NULL,
    message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    app TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app, namespace, name, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locks (
    app TEXT NOT NULL, name TEXT NOT NULL, token TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (app, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS presence (
    app TEXT NOT NULL, grp TEXT NOT NULL, origin TEXT NOT NULL, until REAL NOT NULL,
    present TEXT NOT NULL,
    PRIMARY KEY (app, grp, origin)) WITHOUT ROWID;
"""

_POLL = 0.02
"""Seconds between two looks for other processes' changes (``PRAGMA data_version``)."""

_BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write transaction."""


def database_path(url: str) -> Path:
    """The file of a ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` URL.

    A relative path is relative to the folder the app was started from.
    """
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc or parts.query or not path.startswith("/") or len(path) < 2:
        raise ConfigurationError(
            f"invalid SQLite URL {safe_url(url)!r}: write sqlite:///state.db (a file relative "
            "to the folder the app is started from) or sqlite:////var/lib/app/state.db (absolute)"
        )
    relative = path[1:]
    if relative == ":memory:":
        raise ConfigurationError(
            "sqlite:///:memory: would keep the state in one process only: use memory:// "
            "for that, or a file path to share it and keep it across restarts"
        )
    return Path(relative).absolute()


def _identity(path: Path) -> tuple[int, int] | None:
    """The file at ``path`` (device and inode), None if there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _prepare(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so) and make the tables, unless done before."""
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    if not db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'"
    ).fetchone():
        db.executescript(_SCHEMA)


class SQLiteBackend(SQLBackend):
    """Values in an SQLite file, cached in this process and kept fresh by polling its change log."""

    store_name = "SQLite"
    errors = (sqlite3.Error,)
    recovery = "opens the file again on the next use"

    def __init__(
        self,
        url: str,
        app: str,
        *,
        lock_lease: float = 10.0,
        renew_locks: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sqlite3.sqlite_version_info < (3, 35):
            raise ConfigurationError(
                f"the SQLite store needs SQLite 3.35 or newer; this Python has "
                f"{sqlite3.sqlite_version}"
            )
        super().__init__(url, app, lock_lease=lock_lease, renew_locks=renew_locks)
        self.clock = clock
        """Wall time for leases, shared by the processes of this host (tests pass their own)."""
        self.path = database_path(url)
        self._db: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        """The file the connection has open (device, inode): a durable write checks that
        it is still at the path."""
        self._db_mutex = threading.RLock()
        """One connection per process, one statement at a time: SQLite runs one
        write transaction at a time anyway, and reads are served from the cache."""
        self._seen: int | None = None
        """The id of the last change message this process has acted on."""
        self._writes = 0
        self._synchronous = "FULL"
        """The main connection's ``PRAGMA synchronous`` (see ``_transaction``)."""
        self._busy_ms = int(_BUSY_TIMEOUT * 1000)
        """The main connection's ``PRAGMA busy_timeout``, in ms."""

    @property
    def address(self) -> str:
        return str(self.path)

    @property
    def site(self) -> str:
        return f"SQLite database {self.path}"

    # -- the connection ----------------------------------------------------------------

    def _connect(self, *, prepare: bool = True) -> sqlite3.Connection:
        """A connection to the file; with ``prepare``, the file in WAL mode with the tables made."""
        if not self.path.parent.is_dir():
            raise sqlite3.OperationalError(f"the folder {self.path.parent} does not exist")
        db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        deadline = time.monotonic() + _BUSY_TIMEOUT
        while prepare:
            try:
                _prepare(db)
                break
            except sqlite3.OperationalError as exc:
                # SQLite answers a journal-mode change that meets another
                # connection with "locked" at once, without its busy wait: the
                # first processes on a new file all try it together.
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    db.close()
                    raise
                time.sleep(0.01)
            except BaseException:
                db.close()
                raise
        return db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._connect()
            self._synchronous = "FULL"
            self._busy_ms = int(_BUSY_TIMEOUT * 1000)
            self._file = _identity(self.path)
        return self._db

    def _check_file(self) -> None:
        """Refuse to commit into a file that is no longer at the path (its folder or the
        file deleted or replaced): the write would land in an unlinked file and be lost
        to every process that opens the path next."""
        if _identity(self.path) != self._file:
            raise sqlite3.OperationalError(
                f"the file {self.path} was deleted or replaced while this process had it open"
            )

    def _broken(self) -> None:
        """Close the connection after a failure: the next use opens the file again."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    @contextlib.contextmanager
    def _transaction(
        self, action: str, *, write: bool = True, durable: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """One transaction (``BEGIN IMMEDIATE`` to write); a failure rolls it back and
        becomes a ``BackendError`` naming the file and ``action``.

        A write that need not survive a crash (a lock's lease, which expires
        anyway; a last use; presence) is not synced to disk on its own: the next
        durable write syncs it with its own (``synchronous=NORMAL`` for it, in
        WAL mode): a locked write costs about 40% less.
        """
        with self._db_mutex:
            try:
                db = self._conn()
            except sqlite3.Error as exc:
                self._broken()
                raise self._failed("open", exc) from exc
            try:
                # A write waits for another process's write at most until its own
                # deadline (its lock timeout), never the whole busy timeout.
                deadline = WRITE_DEADLINE.get() if write else None
                busy = _BUSY_TIMEOUT
                if deadline is not None:
                    busy = max(0.0, min(_BUSY_TIMEOUT, deadline - time.monotonic()))
                busy_ms = int(busy * 1000)
                if busy_ms != self._busy_ms:
                    db.execute(f"PRAGMA busy_timeout={busy_ms}")
                    self._busy_ms = busy_ms
                synchronous = "FULL" if durable or not write else "NORMAL"
                if synchronous != self._synchronous:
                    db.execute(f"PRAGMA synchronous={synchronous}")
                    self._synchronous = synchronous
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                    if write and durable:
                        self._check_file()  # one stat: a returned write is in the file
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._broken()
                raise self._failed(action, exc) from exc

    def _log(self, db: Transaction, message: str) -> None:
        now = time.time()
        db.execute(
            "INSERT INTO changes (app, at, message) VALUES (?, ?, ?)", (self.app, now, message)
        )
        self._writes += 1
        if self._writes % 200 == 0:
            self._prune(db, now)

    def _now(self, db: Transaction) -> float:
        return self.clock()

    # -- other processes' writes ------------------------------------------------------

    def _feed(self) -> Generator[str | None, None, None]:
        db = self._connect(prepare=self._seen is None)
        try:
            if self._seen is None:
                # Values read after this either are read after a change or hear of it.
                row = db.execute(
                    "SELECT max(id) FROM changes WHERE app = ?", (self.app,)
                ).fetchone()
                self._seen = int(row[0] or 0)
            yield None
            last_poll = time.monotonic()
            version = None
            while not self._stop.wait(_POLL):
                polled = time.monotonic()
                if polled - last_poll > KEEP_CHANGES / 2:
                    # Changes made while we did not look may be pruned from the log.
                    self._resync()
                last_poll = polled
                now = db.execute("PRAGMA data_version").fetchone()[0]
                if now == version:
                    yield None
                    continue
                version = now
                rows = db.execute(
                    "SELECT id, message FROM changes WHERE app = ? AND id > ? ORDER BY id",
                    (self.app, self._seen),
                ).fetchall()
                for change_id, message in rows:
                    self._seen = change_id
                    yield message
        finally:
            db.close()

    def close(self) -> None:
        super().close()
        with self._db_mutex:
            self._broken()
