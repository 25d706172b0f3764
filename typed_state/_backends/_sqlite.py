"""The SQLite store: state that survives restarts, shared by the processes of one host.

One database file, every table keyed by the app's name first so that apps
sharing a file never collide:

- ``fields``: one JSON value per field (through Pydantic, never pickle) and its
  change count (the field's version);
- ``items``: a list field that ``append`` was used on keeps its items here, one
  row (one JSON) each, in order (its ``fields`` value is ``L``, which no JSON
  is), so that an append inserts only the new items and its change message
  carries only them;
- ``namespaces``: each stored namespace, its write count and, for a member of
  a family, the family and its last use (wall time, for ``typed_state_ttl``);
- ``changes``: the change log; a write appends its change message in the same
  transaction, and every process polls ``PRAGMA data_version`` (it moves when
  another connection commits) and reads the messages after the last one it
  saw.  Messages older than :data:`_KEEP_CHANGES` seconds are pruned;
- ``locks``: one lease per field lock (token, expiry), which fences writes: a
  write under a lock stores only if the lease is still this holder's;
- ``presence``: per process, the sessions present on each state, ignored once
  stale (a process that died).

The file is in WAL mode with ``synchronous=FULL``: a write that returned is in
the file, and survives a ``kill -9`` of the server or a power cut.  Writes are
``BEGIN IMMEDIATE`` transactions: SQLite takes them one at a time across
processes, each waiting at most :data:`_BUSY_TIMEOUT` seconds for the others.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from typed_state import _clock
from typed_state._backends._base import (
    PLAIN,
    WRITE_DEADLINE,
    Expiry,
    StaleVersions,
    Write,
    safe_url,
)
from typed_state._backends._shared import LOGGER, LeaseLost, SharedBackend, holder_died, lock_token
from typed_state._errors import BackendError, ConfigurationError
from typed_state._ids import family_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from typed_state._backends._base import Append
    from typed_state._backends._codec import FieldCodec
    from typed_state._backends._shared import Lease, LeaseLock, Namespace

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

_ITEMS = "L"
"""The ``fields`` value of a list field whose items are rows of ``items``."""

_ITEMS_OF = "SELECT value FROM items WHERE app = ? AND namespace = ? AND name = ? ORDER BY seq"
"""A list field's item JSONs, in order."""

_POLL = 0.02
"""Seconds between two looks for other processes' changes (``PRAGMA data_version``)."""

_KEEP_CHANGES = 60.0
"""Seconds a change message stays in the log; a process that did not poll for
half of that (suspended, stalled) re-reads every field it holds instead."""

_BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write transaction."""

_LOCK_POLL = 0.005
"""Seconds between two tries to take a lease another holder has."""


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


class SQLiteBackend(SharedBackend):
    """Values in an SQLite file, cached in this process and kept fresh by polling its change log."""

    store_name = "SQLite"

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
        super().__init__(lock_lease=lock_lease, renew_locks=renew_locks)
        self.clock = clock
        """Wall time for leases, shared by the processes of this host (tests pass their own)."""
        self.url = url
        self.app = app
        self.path = database_path(url)
        self._db: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        """The file the connection has open (device, inode): a durable write checks that
        it is still at the path."""
        self._db_mutex = threading.RLock()
        """One connection per process, one statement at a time: SQLite runs one
        write transaction at a time anyway, and reads are served from the cache."""
        self._listener: threading.Thread | None = None
        self._seen = 0
        """The id of the last change message this process has acted on."""
        self._writes = 0
        self._synchronous = "FULL"
        """The main connection's ``PRAGMA synchronous`` (see :meth:`_transaction`)."""
        self._busy_ms = int(_BUSY_TIMEOUT * 1000)
        """The main connection's ``PRAGMA busy_timeout``, in ms."""

    # -- the connection ----------------------------------------------------------------

    def _failed(self, action: str, exc: Exception) -> BackendError:
        return BackendError(
            f"SQLite database {self.path} failed to {action}: {exc}. Nothing was changed; "
            "typed_state opens the file again on the next use.",
            url=str(self.path),
            action=action,
        )

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
        becomes a :class:`BackendError` naming the file and ``action``.

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

    def _where(self, namespace: str) -> str:
        return f"{self.path}, {self.app} {namespace}"

    # -- reading -----------------------------------------------------------------------

    def _select(
        self, db: sqlite3.Connection, namespace: str, names: list[str] | None
    ) -> tuple[int | None, dict[str, tuple[Any, int]]]:
        """The namespace's version (None if not stored) and its fields' (value, changes):
        a value is the JSON, or a list field's item JSONs."""
        row = db.execute(
            "SELECT version FROM namespaces WHERE app = ? AND namespace = ?",
            (self.app, namespace),
        ).fetchone()
        query = "SELECT name, value, changes FROM fields WHERE app = ? AND namespace = ?"
        args: list[Any] = [self.app, namespace]
        if names is not None:
            query += f" AND name IN ({','.join('?' * len(names))})"
            args += names
        fields: dict[str, tuple[Any, int]] = {}
        for name, value, changes in db.execute(query, args).fetchall():
            if value == _ITEMS:
                value = [item for (item,) in db.execute(_ITEMS_OF, (self.app, namespace, name))]
            fields[name] = (value, changes)
        return (None if row is None else int(row[0])), fields

    def _read(self, namespace: str, names: list[str]) -> tuple[int, list[Any], list[int]]:
        with self._transaction(f"read {namespace}", write=False) as db:
            version, fields = self._select(db, namespace, names)
        found = [fields.get(name, (None, 0)) for name in names]
        return version or 0, [value for value, _ in found], [count for _, count in found]

    def _fill_from(
        self, ns: Namespace, namespace: str, version: int, fields: Mapping[str, tuple[Any, int]]
    ) -> None:
        self._fill(
            ns,
            namespace,
            {name: value for name, (value, _) in fields.items()},
            version,
            {name: changes for name, (_, changes) in fields.items()},
        )

    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        ns = self._attach(namespace, codec)
        with self._transaction(f"load {namespace}", write=False) as db:
            version, fields = self._select(db, namespace, None)
        if version is None:
            return None
        if any(name not in fields for name in codec.names):
            # Fields the class gained: stored now, so every process agrees on them
            # (a renamed field's value read from its old name, through its alias).
            stored = {name: value for name, (value, _) in fields.items()}
            return self.create(namespace, codec.read(stored).values, codec)
        self._fill_from(ns, namespace, version, fields)
        return ns.live

    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        ns = self._attach(namespace, codec)
        encoded = [(name, codec.encode(name, value).decode()) for name, value in values.items()]
        with self._transaction(f"create {namespace}") as db:
            db.execute(
                "INSERT OR IGNORE INTO namespaces VALUES (?, ?, ?, 0, ?)",
                (self.app, namespace, family_of(namespace), _clock.now()),
            )
            # Only the fields missing: another process may have stored them.
            db.executemany(
                "INSERT OR IGNORE INTO fields VALUES (?, ?, ?, ?, 0)",
                [(self.app, namespace, name, raw) for name, raw in encoded],
            )
            version, fields = self._select(db, namespace, None)
        self._fill_from(ns, namespace, version or 0, fields)
        return ns.live

    def refresh(self, namespace: str, names: list[str]) -> None:
        """Bring these fields up to date in the cache (their locks are held); a field
        this process holds at its stored change count is not read again."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        with self._transaction(f"read {namespace}", write=False) as db:
            counts = db.execute(
                f"SELECT name, changes FROM fields WHERE app = ? AND namespace = ? "
                f"AND name IN ({','.join('?' * len(names))})",
                [self.app, namespace, *names],
            ).fetchall()
            # A field held at its stored change count is not read again: locking
            # a big list field reads no items.
            stale = [name for name, changes in counts if changes != ns.changes.get(name)]
            if not stale:
                return
            version, fields = self._select(db, namespace, stale)
        stale = [name for name in stale if name in fields]
        self._refreshed(
            ns,
            namespace,
            stale,
            version or 0,
            [fields[n][0] for n in stale],
            [fields[n][1] for n in stale],
        )

    # -- writing -----------------------------------------------------------------------

    def _log(self, db: sqlite3.Connection, message: str) -> None:
        """Append a change message to the log (inside the write's transaction)."""
        now = time.time()
        db.execute(
            "INSERT INTO changes (app, at, message) VALUES (?, ?, ?)", (self.app, now, message)
        )
        self._writes += 1
        if self._writes % 200 == 0:
            db.execute("DELETE FROM changes WHERE at < ?", (now - _KEEP_CHANGES,))

    def _check_leases(self, db: sqlite3.Connection, held: list[Any]) -> None:
        now = self.clock()
        for lock in held:
            row = db.execute(
                "SELECT token, expires FROM locks WHERE app = ? AND name = ?", (self.app, lock.name)
            ).fetchone()
            if row is None or row[0] != lock.token or row[1] < now:
                raise lock.lost()

    def save(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec, how: Write = PLAIN
    ) -> bool:
        ns = self._namespaces[namespace]
        encoded = {name: codec.encode(name, value).decode() for name, value in values.items()}
        names = sorted(values)
        family = family_of(namespace)
        held = self.held_locks(namespace, names)
        with self._transaction(f"store {namespace} {names}") as db:
            # Fenced by the locks this thread holds on these fields.
            self._check_leases(db, held)
            if how.expect:
                _, fields = self._select(db, namespace, list(how.expect))
                found = {name: fields[name][1] if name in fields else 0 for name in how.expect}
                if found != dict(how.expect):
                    raise StaleVersions(found)
            now = _clock.now()
            row = db.execute(
                "UPDATE namespaces SET version = version + 1, used = ? "
                "WHERE app = ? AND namespace = ? RETURNING version",
                (now if family is not None else None, self.app, namespace),
            ).fetchone()
            created = row is None
            if created:
                # A member's first write stores its other fields too (their
                # defaults here), unless another process created it meanwhile.
                db.execute(
                    "INSERT INTO namespaces VALUES (?, ?, ?, 1, ?)",
                    (self.app, namespace, family, now if family is not None else None),
                )
                db.executemany(
                    "INSERT OR IGNORE INTO fields VALUES (?, ?, ?, ?, 0)",
                    [
                        (self.app, namespace, n, codec.encode(n, v).decode())
                        for n, v in ns.live.items()
                        if n not in values
                    ],
                )
            version = 1 if row is None else int(row[0])
            # A list field written whole is JSON in ``fields`` again.
            db.execute(
                f"DELETE FROM items WHERE app = ? AND namespace = ? "
                f"AND name IN ({','.join('?' * len(names))})",
                [self.app, namespace, *names],
            )
            changes = [
                int(
                    db.execute(
                        "INSERT INTO fields VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE "
                        "SET value = excluded.value, changes = changes + 1 RETURNING changes",
                        (self.app, namespace, name, encoded[name]),
                    ).fetchone()[0]
                )
                for name in values
            ]
            self._log(db, self._message(namespace, names, q=how.quiet, c=created))
        self._stored(
            ns, {n: codec.as_stored(n, v, encoded[n]) for n, v in values.items()}, version, changes
        )
        return created

    def _append_items(
        self, namespace: str, change: Append, codec: FieldCodec, held: list[LeaseLock]
    ) -> tuple[int, int] | None:
        name, keep_last = change.name, change.keep_last
        family = family_of(namespace)
        key = (self.app, namespace, name)
        with self._transaction(f"append to {namespace} {name}") as db:
            self._check_leases(db, held)
            row = db.execute(
                "SELECT value FROM fields WHERE app = ? AND namespace = ? AND name = ?", key
            ).fetchone()
            if row is None:
                gone = True  # deleted meanwhile (drop, expiry): a first write again
            else:
                gone = False
                converted = row[0] != _ITEMS
                if converted:
                    # The field is JSON (written whole, or never appended to): it
                    # becomes rows, once, holding the new value.
                    added, first = codec.encode_items(name, list(change.value)), 1
                    db.execute(
                        "DELETE FROM items WHERE app = ? AND namespace = ? AND name = ?", key
                    )
                else:
                    added = codec.encode_items(name, change.items)
                    (last,) = db.execute(
                        "SELECT max(seq) FROM items WHERE app = ? AND namespace = ? AND name = ?",
                        key,
                    ).fetchone()
                    first = (last or 0) + 1
                db.executemany(
                    "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                    [(*key, first + i, raw.decode()) for i, raw in enumerate(added)],
                )
                if keep_last is not None:
                    db.execute(
                        "DELETE FROM items WHERE app = ? AND namespace = ? AND name = ? "
                        "AND seq <= ?",
                        (*key, first + len(added) - 1 - keep_last),
                    )
                (changes,) = db.execute(
                    "UPDATE fields SET value = ?, changes = changes + 1 "
                    "WHERE app = ? AND namespace = ? AND name = ? RETURNING changes",
                    (_ITEMS, *key),
                ).fetchone()
                (version,) = db.execute(
                    "UPDATE namespaces SET version = version + 1, used = ? "
                    "WHERE app = ? AND namespace = ? RETURNING version",
                    (_clock.now() if family is not None else None, self.app, namespace),
                ).fetchone()
                appended: dict[str, Any] | None = None
                if not converted:
                    # Only the new items travel; a process one change behind applies them.
                    appended = {"a": [raw.decode() for raw in added], "v": version, "c": changes}
                    if keep_last is not None:
                        appended["k"] = keep_last
                self._log(db, self._message(namespace, [name], appended, q=change.quiet))
        return None if gone else (version, changes)

    def announce(self, namespace: str, names: list[str]) -> None:
        with self._transaction(f"announce {namespace} {names}") as db:
            self._log(db, self._message(namespace, names, x=True))

    def _drop(self, db: sqlite3.Connection, namespace: str) -> bool:
        gone = db.execute(
            "DELETE FROM namespaces WHERE app = ? AND namespace = ?", (self.app, namespace)
        ).rowcount
        for table in ("fields", "items"):
            db.execute(
                f"DELETE FROM {table} WHERE app = ? AND namespace = ?", (self.app, namespace)
            )
        if gone:
            self._log(db, self._message(namespace, [], d=True))
        return bool(gone)

    def delete(self, namespace: str) -> bool:
        with self._transaction(f"delete {namespace}") as db:
            deleted = self._drop(db, namespace)
        self._forget([namespace])
        return deleted

    def mark_used(self, namespace: str, when: float) -> None:
        if family_of(namespace) is None:
            return
        with self._transaction(f"note the use of {namespace}", durable=False) as db:
            # Never back in time; a member nobody stored is not one.
            db.execute(
                "UPDATE namespaces SET used = max(coalesce(used, 0), ?) "
                "WHERE app = ? AND namespace = ?",
                (when, self.app, namespace),
            )

    def expire(self, family: str, rule: Expiry) -> list[str]:
        with self._transaction(f"expire members of {family}") as db:
            used = dict(
                db.execute(
                    "SELECT namespace, used FROM namespaces WHERE app = ? AND family = ? "
                    "ORDER BY used",
                    (self.app, family),
                ).fetchall()
            )
            dropped = [namespace for namespace in rule.doomed(used) if self._drop(db, namespace)]
        self._forget(dropped)
        return dropped

    def members(self, family: str) -> list[str]:
        with self._transaction(f"list the members of {family}", write=False) as db:
            rows = db.execute(
                "SELECT namespace FROM namespaces WHERE app = ? AND family = ? ORDER BY namespace",
                (self.app, family),
            ).fetchall()
        return [namespace for (namespace,) in rows]

    # -- presence ----------------------------------------------------------------------

    def share_presence(
        self, groups: Mapping[str, Mapping[str, list[str | None]]], until: float
    ) -> None:
        with self._transaction("share presence", durable=False) as db:
            # Entries of processes that stopped beating (they died) go for good.
            db.execute(
                "DELETE FROM presence WHERE app = ? AND until < ?",
                (self.app, _clock.now() - _KEEP_CHANGES),
            )
            for group, present in groups.items():
                if present:
                    db.execute(
                        "INSERT OR REPLACE INTO presence VALUES (?, ?, ?, ?, ?)",
                        (self.app, group, self._origin, until, json.dumps(present)),
                    )
                else:
                    db.execute(
                        "DELETE FROM presence WHERE app = ? AND grp = ? AND origin = ?",
                        (self.app, group, self._origin),
                    )

    def others_presence(self, groups: list[str], now: float) -> dict[str, list[str | None]]:
        with self._transaction("read presence", write=False) as db:
            rows = db.execute(
                f"SELECT present FROM presence WHERE app = ? AND origin != ? AND until >= ? "
                f"AND grp IN ({','.join('?' * len(groups))})",
                [self.app, self._origin, now, *groups],
            ).fetchall()
        found: dict[str, list[str | None]] = {}
        for (raw,) in rows:
            for namespace, labels in json.loads(raw).items():
                found.setdefault(namespace, []).extend(labels)
        return found

    # -- locks -------------------------------------------------------------------------

    def _lease(self, namespace: str, field: str) -> Lease:
        return _SQLiteLease(self, f"{namespace}:{field}")

    # -- other processes' writes ------------------------------------------------------

    def _listen_from_now(self) -> None:
        if self._listener is not None:
            return
        with self._mutex:
            self._start_listening()

    def _start_listening(self) -> None:
        if self._listener is None:  # another thread may have started it meanwhile
            # Values read after this either are read after a change or hear of it.
            with self._transaction("read the change log", write=False) as db:
                row = db.execute(
                    "SELECT max(id) FROM changes WHERE app = ?", (self.app,)
                ).fetchone()
            self._seen = int(row[0] or 0)
            self._listener = self._thread(self._listen, "typed_state-sqlite")

    def _listen(self) -> None:
        attempt = 0
        db: sqlite3.Connection | None = None
        last_poll = time.monotonic()
        version = None
        while not self._stop.wait(_POLL):
            try:
                if db is None:
                    db = self._connect(prepare=False)  # the main connection prepared it
                    version = None
                polled = time.monotonic()
                stalled = polled - last_poll > _KEEP_CHANGES / 2
                last_poll = polled
                now = db.execute("PRAGMA data_version").fetchone()[0]
                if now == version and not attempt and not stalled:
                    continue
                version = now
                rows = db.execute(
                    "SELECT id, message FROM changes WHERE app = ? AND id > ? ORDER BY id",
                    (self.app, self._seen),
                ).fetchall()
                if attempt or stalled:
                    if attempt:
                        LOGGER.warning("typed_state: SQLite database %s is back", self.path)
                    attempt = 0
                    # Changes made while we could not look may be pruned from the log.
                    self._resync()
                for change_id, message in rows:
                    self._seen = change_id
                    self._received(message)
            except (sqlite3.Error, BackendError) as exc:
                # BackendError: a fetch on the main connection failed.  Either
                # way, once the file answers again every field is read again.
                if attempt == 0:
                    LOGGER.warning(
                        "typed_state: cannot read SQLite database %s (%s); retrying",
                        self.path,
                        exc,
                    )
                if db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
                    db = None
                self._stop.wait(self._backoff(attempt))
                attempt += 1
            except Exception:  # a bug must not silently end the listener
                LOGGER.exception("typed_state: SQLite listener error")
                self._stop.wait(1.0)
        if db is not None:
            db.close()

    def _resync(self) -> None:
        """Re-read every stored field this process holds (changes may have been missed)."""
        for namespace, ns in list(self._namespaces.items()):
            if ns.stored:
                self._fetch(namespace, ns, ns.codec.names)

    def close(self) -> None:
        super().close()
        with self._db_mutex:
            self._broken()


class _SQLiteLease:
    """A field's lock in the ``locks`` table: a token and an expiry, taken in a write
    transaction when free or expired, polled every :data:`_LOCK_POLL` s otherwise."""

    __slots__ = ("_backend", "name", "token")

    def __init__(self, backend: SQLiteBackend, name: str) -> None:
        self._backend = backend
        self.name = name
        self.token: str | None = None

    def take(self, timeout: float) -> bool:
        backend = self._backend
        deadline = time.monotonic() + timeout
        token = lock_token()
        while True:
            with backend._transaction(f"lock {self.name}", durable=False) as db:
                now = backend.clock()
                taken = db.execute(
                    "INSERT INTO locks VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                    "SET token = excluded.token, expires = excluded.expires "
                    "WHERE expires < ? RETURNING token",
                    (backend.app, self.name, token, now + backend.lock_lease, now),
                ).fetchone()
                if taken is None:
                    # Held: by a process of this host that died (kill -9, a crash)?
                    # Then its lease need not run out first.
                    (holder,) = db.execute(
                        "SELECT token FROM locks WHERE app = ? AND name = ?",
                        (backend.app, self.name),
                    ).fetchone() or (None,)
                    if holder_died(holder):
                        taken = db.execute(
                            "UPDATE locks SET token = ?, expires = ? WHERE app = ? AND name = ? "
                            "AND token = ? RETURNING token",
                            (token, now + backend.lock_lease, backend.app, self.name, holder),
                        ).fetchone()
                        if taken is not None:
                            LOGGER.warning(
                                "typed_state: took over the lock %s from a process that died "
                                "holding it",
                                self.name,
                            )
            if taken is not None:
                self.token = token
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_LOCK_POLL)

    def give_back(self) -> None:
        token, self.token = self.token, None
        with self._backend._transaction(f"release the lock on {self.name}", durable=False) as db:
            row = db.execute(
                "DELETE FROM locks WHERE app = ? AND name = ? AND token = ? RETURNING expires",
                (self._backend.app, self.name, token),
            ).fetchone()
        if row is None or row[0] < self._backend.clock():
            raise LeaseLost

    def extend(self) -> None:
        with self._backend._transaction(f"renew the lock on {self.name}", durable=False) as db:
            now = self._backend.clock()
            row = db.execute(
                "UPDATE locks SET expires = ? WHERE app = ? AND name = ? AND token = ? "
                "AND expires >= ? RETURNING 1",
                (now + self._backend.lock_lease, self._backend.app, self.name, self.token, now),
            ).fetchone()
        if row is None:
            raise LeaseLost
