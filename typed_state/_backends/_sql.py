"""What the SQL stores (SQLite, PostgreSQL) keep in the same tables and write with the
same statements.

Every table is keyed by the app's name first, so that apps sharing a database never
collide:

- ``fields``: one JSON value per field (through Pydantic, never pickle) and its
  change count (the field's version);
- ``items``: a list field that ``append`` was used on keeps its items here, one
  row (one JSON) each, in order (its ``fields`` value is ``L``, which no JSON
  is), so that an append inserts only the new items and its change message
  carries only them;
- ``namespaces``: each stored namespace, its write count and, for a member of
  a family, the family and its last use (wall time, for ``typed_state_ttl``);
- ``changes``: change messages that other processes read (each store says which);
- ``locks``: one lease per field lock (token, expiry), which fences writes: a
  write under a lock stores only if the lease is still this holder's;
- ``presence``: per process, the sessions present on each state, ignored once
  stale (a process that died).

A write is one transaction that first updates its namespace's row: that row
lock orders the writes of one namespace, so a conditional write's check and the
write it allows see the same versions.  The statements are written once, with
``?`` placeholders; a store whose client spells them otherwise translates them in
its ``Transaction``.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from typed_state import _clock
from typed_state._backends._base import PLAIN, Expiry, StaleVersions, Write
from typed_state._backends._shared import LeaseLost, SharedBackend, StoreLease
from typed_state._ids import family_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from contextlib import AbstractContextManager

    from typed_state._backends._base import Append
    from typed_state._backends._codec import FieldCodec
    from typed_state._backends._shared import LeaseLock, Snapshot

ITEMS = "L"
"""The ``fields`` value of a list field whose items are rows of ``items``."""

_ITEMS_OF = "SELECT value FROM items WHERE app = ? AND namespace = ? AND name = ? ORDER BY seq"
"""A list field's item JSONs, in order."""

KEEP_CHANGES = 60.0
"""Seconds a change message stays in the ``changes`` table."""


class Transaction(Protocol):
    """What the SQL stores need of a connection inside a transaction (``sqlite3``'s
    connection as it is; psycopg's through a small adapter)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any:
        """Run one statement; a cursor (``fetchone``, ``fetchall``, ``rowcount``)."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement for each row of parameters."""
        ...


def _marks(names: Sequence[object]) -> str:
    return ",".join("?" * len(names))


class SQLBackend(SharedBackend):
    """A store in SQL tables (see the module's docstring), cached in this process."""

    share_lock: ClassVar[str] = ""
    """What makes a lease read inside a write hold the lease's row until the commit, so
    that nobody takes the lease between the check and the write (`` FOR SHARE``);
    empty for a store that runs one write transaction at a time."""

    # -- what each SQL store provides ---------------------------------------------------

    @abstractmethod
    def _transaction(
        self, action: str, *, write: bool = True, durable: bool = True
    ) -> AbstractContextManager[Transaction]:
        """One transaction, committed at the end, rolled back on an error.  A failure of
        the store becomes a ``BackendError`` naming ``action``.  A read
        (``write=False``) sees one snapshot; a write that need not survive a crash (a
        lease, a last use, presence: ``durable=False``) may skip the sync to disk."""

    @abstractmethod
    def _log(self, db: Transaction, message: str) -> None:
        """Send a change message to the other processes when the transaction commits."""

    @abstractmethod
    def _now(self, db: Transaction) -> float:
        """The time of the leases' clock (seconds), which every holder must share."""

    def _where(self, namespace: str) -> str:
        return f"{self.address}, {self.app} {namespace}"

    def _prune(self, db: Transaction, now: float) -> None:
        """Delete the change messages older than ``KEEP_CHANGES``."""
        db.execute("DELETE FROM changes WHERE app = ? AND at < ?", (self.app, now - KEEP_CHANGES))

    # -- reading -----------------------------------------------------------------------

    def _select(
        self, db: Transaction, namespace: str, names: list[str] | None
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
            query += f" AND name IN ({_marks(names)})"
            args += names
        fields: dict[str, tuple[Any, int]] = {}
        for name, value, changes in db.execute(query, args).fetchall():
            if value == ITEMS:
                items = db.execute(_ITEMS_OF, (self.app, namespace, name)).fetchall()
                value = [item for (item,) in items]
            fields[name] = (value, int(changes))
        return (None if row is None else int(row[0])), fields

    @staticmethod
    def _snapshot(version: int, fields: Mapping[str, tuple[Any, int]]) -> Snapshot:
        return (
            version,
            {name: value for name, (value, _) in fields.items()},
            {name: changes for name, (_, changes) in fields.items()},
        )

    def _read(self, namespace: str, names: list[str]) -> tuple[int, list[Any], list[int]]:
        with self._transaction(f"read {namespace}", write=False) as db:
            version, fields = self._select(db, namespace, names)
        found = [fields.get(name, (None, 0)) for name in names]
        return version or 0, [value for value, _ in found], [count for _, count in found]

    def _load(self, namespace: str) -> Snapshot | None:
        with self._transaction(f"load {namespace}", write=False) as db:
            version, fields = self._select(db, namespace, None)
        return None if version is None else self._snapshot(version, fields)

    def _create(self, namespace: str, encoded: Mapping[str, bytes]) -> Snapshot:
        with self._transaction(f"create {namespace}") as db:
            db.execute(
                "INSERT INTO namespaces VALUES (?, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
                (self.app, namespace, family_of(namespace), _clock.now()),
            )
            # Only the fields missing: another process may have stored them.
            db.executemany(
                "INSERT INTO fields VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                [(self.app, namespace, name, raw.decode()) for name, raw in encoded.items()],
            )
            version, fields = self._select(db, namespace, None)
        return self._snapshot(version or 0, fields)

    def refresh(self, namespace: str, names: list[str]) -> None:
        """Bring these fields up to date in the cache (their locks are held); a field
        this process holds at its stored change count is not read again."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        with self._transaction(f"read {namespace}", write=False) as db:
            counts = db.execute(
                f"SELECT name, changes FROM fields WHERE app = ? AND namespace = ? "
                f"AND name IN ({_marks(names)})",
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

    def _check_leases(self, db: Transaction, held: list[LeaseLock]) -> None:
        """Refuse the write unless every lease in ``held`` is still its holder's."""
        if not held:
            return
        now = self._now(db)
        for lock in held:
            row = db.execute(
                f"SELECT token, expires FROM locks WHERE app = ? AND name = ?{self.share_lock}",
                (self.app, lock.name),
            ).fetchone()
            if row is None or row[0] != lock.token or row[1] < now:
                raise lock.lost()

    def _bump(self, db: Transaction, namespace: str) -> int | None:
        """Count a write of a stored namespace (and its use); its new version, None if it
        is not stored.  The row stays locked until the commit."""
        family = family_of(namespace)
        row = db.execute(
            "UPDATE namespaces SET version = version + 1, used = ? "
            "WHERE app = ? AND namespace = ? RETURNING version",
            (_clock.now() if family is not None else None, self.app, namespace),
        ).fetchone()
        return None if row is None else int(row[0])

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
            version = self._bump(db, namespace)
            created = False
            if version is None:
                created = (
                    db.execute(
                        "INSERT INTO namespaces VALUES (?, ?, ?, 1, ?) ON CONFLICT DO NOTHING "
                        "RETURNING version",
                        (self.app, namespace, family, _clock.now() if family is not None else None),
                    ).fetchone()
                    is not None
                )
                # Created by another process meanwhile: a write like any other.
                version = 1 if created else self._bump(db, namespace) or 1
            if created:
                # A member's first write stores its other fields too (their
                # defaults here), unless another process created it meanwhile.
                db.executemany(
                    "INSERT INTO fields VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                    [
                        (self.app, namespace, n, codec.encode(n, v).decode())
                        for n, v in ns.live.items()
                        if n not in values
                    ],
                )
            if how.expect:
                # Checked under the namespace's row lock: no write of it can come between.
                _, fields = self._select(db, namespace, list(how.expect))
                found = {name: fields[name][1] if name in fields else 0 for name in how.expect}
                if found != dict(how.expect):
                    raise StaleVersions(found)
            # A list field written whole is JSON in ``fields`` again.
            db.execute(
                f"DELETE FROM items WHERE app = ? AND namespace = ? AND name IN ({_marks(names)})",
                [self.app, namespace, *names],
            )
            changes = [
                int(
                    db.execute(
                        "INSERT INTO fields VALUES (?, ?, ?, ?, 1) "
                        "ON CONFLICT (app, namespace, name) DO UPDATE "
                        "SET value = excluded.value, changes = fields.changes + 1 "
                        "RETURNING changes",
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
        key = (self.app, namespace, name)
        with self._transaction(f"append to {namespace} {name}") as db:
            self._check_leases(db, held)
            version = self._bump(db, namespace)
            row = db.execute(
                "SELECT value FROM fields WHERE app = ? AND namespace = ? AND name = ?", key
            ).fetchone()
            if version is None or row is None:
                return None  # deleted meanwhile (drop, expiry): a first write again
            converted = row[0] != ITEMS
            if converted:
                # The field is JSON (written whole, or never appended to): it
                # becomes rows, once, holding the new value.
                added, first = codec.encode_items(name, list(change.value)), 1
                db.execute("DELETE FROM items WHERE app = ? AND namespace = ? AND name = ?", key)
            else:
                added = codec.encode_items(name, change.items)
                (last,) = db.execute(
                    "SELECT max(seq) FROM items WHERE app = ? AND namespace = ? AND name = ?", key
                ).fetchone()
                first = (last or 0) + 1
            db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                [(*key, first + i, raw.decode()) for i, raw in enumerate(added)],
            )
            if keep_last is not None:
                db.execute(
                    "DELETE FROM items WHERE app = ? AND namespace = ? AND name = ? AND seq <= ?",
                    (*key, first + len(added) - 1 - keep_last),
                )
            (changes,) = db.execute(
                "UPDATE fields SET value = ?, changes = changes + 1 "
                "WHERE app = ? AND namespace = ? AND name = ? RETURNING changes",
                (ITEMS, *key),
            ).fetchone()
            appended: dict[str, Any] | None = None
            if not converted:
                # Only the new items travel; a process one change behind applies them.
                appended = {"a": [raw.decode() for raw in added], "v": version, "c": changes}
                if keep_last is not None:
                    appended["k"] = keep_last
            self._log(db, self._message(namespace, [name], appended, q=change.quiet))
        return version, int(changes)

    def announce(self, namespace: str, names: list[str]) -> None:
        with self._transaction(f"announce {namespace} {names}") as db:
            self._log(db, self._message(namespace, names, x=True))

    def _drop(self, db: Transaction, namespace: str) -> bool:
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

    # -- families ----------------------------------------------------------------------

    def mark_used(self, namespace: str, when: float) -> None:
        if family_of(namespace) is None:
            return
        with self._transaction(f"note the use of {namespace}", durable=False) as db:
            # Never back in time; a member nobody stored is not one.
            db.execute(
                "UPDATE namespaces SET used = ? WHERE app = ? AND namespace = ? "
                "AND (used IS NULL OR used < ?)",
                (when, self.app, namespace, when),
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
                (self.app, _clock.now() - KEEP_CHANGES),
            )
            for group, present in groups.items():
                if present:
                    db.execute(
                        "INSERT INTO presence VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (app, grp, origin) DO UPDATE "
                        "SET until = excluded.until, present = excluded.present",
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
                f"AND grp IN ({_marks(groups)})",
                [self.app, self._origin, now, *groups],
            ).fetchall()
        found: dict[str, list[str | None]] = {}
        for (raw,) in rows:
            for namespace, labels in json.loads(raw).items():
                found.setdefault(namespace, []).extend(labels)
        return found

    # -- locks -------------------------------------------------------------------------

    def _lease(self, namespace: str, field: str) -> StoreLease:
        return _SQLLease(self, f"{namespace}:{field}")


class _SQLLease(StoreLease):
    """A field's lock in the ``locks`` table: a token and an expiry on the store's
    lease clock, taken when free or expired."""

    __slots__ = ("_backend", "_token")

    def __init__(self, backend: SQLBackend, name: str) -> None:
        super().__init__(name)
        self._backend = backend
        self._token: str | None = None

    @property
    def token(self) -> str | None:
        return self._token

    def _try(self, token: str) -> bool:
        backend = self._backend
        with backend._transaction(f"lock {self.name}", durable=False) as db:
            now = backend._now(db)
            taken = db.execute(
                "INSERT INTO locks VALUES (?, ?, ?, ?) ON CONFLICT (app, name) DO UPDATE "
                "SET token = excluded.token, expires = excluded.expires "
                "WHERE locks.expires < ? RETURNING token",
                (backend.app, self.name, token, now + backend.lock_lease, now),
            ).fetchone()
        if taken is None:
            return False
        self._token = token
        return True

    def _holder(self) -> str | None:
        backend = self._backend
        with backend._transaction(f"read the lock {self.name}", write=False) as db:
            row = db.execute(
                "SELECT token FROM locks WHERE app = ? AND name = ?", (backend.app, self.name)
            ).fetchone()
        return None if row is None else str(row[0])

    def _take_from(self, holder: str | bytes, token: str) -> bool:
        backend = self._backend
        with backend._transaction(f"lock {self.name}", durable=False) as db:
            now = backend._now(db)
            taken = db.execute(
                "UPDATE locks SET token = ?, expires = ? WHERE app = ? AND name = ? "
                "AND token = ? RETURNING token",
                (token, now + backend.lock_lease, backend.app, self.name, holder),
            ).fetchone()
        if taken is None:
            return False
        self._token = token
        return True

    def give_back(self) -> None:
        token, self._token = self._token, None
        backend = self._backend
        with backend._transaction(f"release the lock on {self.name}", durable=False) as db:
            row = db.execute(
                "DELETE FROM locks WHERE app = ? AND name = ? AND token = ? RETURNING expires",
                (backend.app, self.name, token),
            ).fetchone()
            now = backend._now(db)
        if row is None or row[0] < now:
            raise LeaseLost

    def extend(self) -> None:
        backend = self._backend
        with backend._transaction(f"renew the lock on {self.name}", durable=False) as db:
            now = backend._now(db)
            row = db.execute(
                "UPDATE locks SET expires = ? WHERE app = ? AND name = ? AND token = ? "
                "AND expires >= ? RETURNING 1",
                (now + backend.lock_lease, backend.app, self.name, self._token, now),
            ).fetchone()
        if row is None:
            raise LeaseLost
