"""What every store shared by several processes does the same way (Redis, SQLite,
PostgreSQL): a store module provides reads, writes, a lease and a feed of change
messages (the abstract methods of ``SharedBackend`` and ``StoreLease``),
and this module does the rest.

Each process keeps the decoded values in a local cache, the dict the model
reads from, so a field read never leaves the process.  Every write sends a
change message (JSON: origin ``o``, namespace ``n``, fields ``f`` and flags:
``c`` created, ``d`` deleted, ``q`` quiet, ``x`` forced by ``notify()``, and for
an append its items ``a`` with the field's change count ``c`` and version ``v``);
another process's message makes this one fetch the fields named (never trusting
the message for values, except an append's items applied exactly one change on)
and report them through ``SharedBackend.watch``.

Field locks are leases: a local re-entrant lock, then a lock in the store
that a background thread renews every third of its lease while its holder
works and that fences writes (a store write checks the holder's token).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
import warnings
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from typed_state._backends._base import Append, Backend, FieldLock, Write, safe_url
from typed_state._change import differs
from typed_state._errors import BackendError, LockLostError, StoredValueWarning
from typed_state._ids import StateId, family_of
from typed_state._once import get_or_create
from typed_state._readonly import extended

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Mapping

    from typed_state._backends._codec import FieldCodec, Unreadable

LOGGER = logging.getLogger("typed_state")


_RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Seconds between attempts to reach the store again after losing it (the last repeats)."""

LONGEST_BACKOFF = _RECONNECT_DELAYS[-1]
"""Seconds between attempts that are refused rather than failed (a permission)."""

_FOLLOW_WAIT = 2.0
"""Seconds the first use waits for the listener to follow changes (a store that does
not answer by then is retried in the background, and said)."""

_DEAD_HOLDER_CHECK = 0.25
"""While a lock is held by another, how often its holder is checked for having died (s)."""

Snapshot = tuple[int, dict[str, Any], dict[str, int]]
"""A namespace read in one step: its version, its stored fields (a JSON, or a list
field's item JSONs) and their change counts, by name."""


class Namespace:
    """What this process knows of one namespace: live values and their versions."""

    __slots__ = (
        "broken_rule",
        "callbacks",
        "changes",
        "codec",
        "field_versions",
        "live",
        "stored",
        "unreadable",
    )

    def __init__(self, codec: FieldCodec) -> None:
        self.codec = codec
        self.stored = False
        """Whether the namespace exists in the store, as far as this process knows."""
        self.live: dict[str, Any] = {}
        self.field_versions: dict[str, int] = {}
        """Per field, the namespace version its cached value was read or written at."""
        self.changes: dict[str, int] = {}
        """Per field, how many changes were stored (``state.version(field)``)."""
        self.callbacks: list[Callable[[list[str], bool], None]] = []
        self.unreadable: dict[str, Unreadable] = {}
        """Fields whose stored value this class cannot read (it shows their defaults):
        no write may be built on what it shows (see ``SharedBackend.unreadable``)."""
        self.broken_rule: str | None = None
        """The model validator the stored state breaks, if it does (said once)."""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:  # no /proc (macOS, Windows): the host name alone says "same host"
        return "-"


_HOST = f"{socket.gethostname()}/{_pid_namespace()}"
"""Where this process's process ids mean something: its host and process namespace."""


def lock_token() -> str:
    """A new token for a lease: who holds it (host, process namespace, process id) and a
    unique part, so that another process on the same host can see that its holder died."""
    return f"{_HOST}/{os.getpid()}/{uuid.uuid4().hex}"


def holder_died(token: str | bytes | None) -> bool:
    """Whether the lease ``token`` names a process of this host that no longer runs.

    Only the same host and process namespace can tell; a holder elsewhere (or an
    older token without a holder) is taken to be alive, and its lease frees it.
    """
    if isinstance(token, bytes):
        token = token.decode(errors="replace")
    if not token or token.count("/") < 3:
        return False
    where, pid, _ = token.rsplit("/", 2)
    if where != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's process
        return False
    return False


class LeaseLost(Exception):
    """The lease is no longer this holder's (it ran out, and maybe someone else took it)."""


class StoreLease(ABC):
    """A field's lock in the store: the holder's token until it expires.

    A store provides the four steps (``_try``, ``_holder``,
    ``_take_from``, and give back / extend); ``take`` waits, and takes
    over a lock whose holder died on this host without waiting for its lease.
    """

    __slots__ = ("name",)

    poll = 0.005
    """Seconds between two tries to take a lease another holder has."""

    def __init__(self, name: str) -> None:
        self.name = name
        """The lock's key in the store."""

    @property
    @abstractmethod
    def token(self) -> Any:
        """The holder's token while held, else None."""

    @abstractmethod
    def _try(self, token: str) -> bool:
        """Take the lease with ``token`` if it is free or expired."""

    @abstractmethod
    def _holder(self) -> str | bytes | None:
        """The token of whoever holds the lease, None if nobody does."""

    @abstractmethod
    def _take_from(self, holder: str | bytes, token: str) -> bool:
        """Take the lease with ``token`` if ``holder`` still has it (it died)."""

    @abstractmethod
    def give_back(self) -> None:
        """Release the lease; ``LeaseLost`` if it was no longer ours."""

    @abstractmethod
    def extend(self) -> None:
        """Give the held lease a full term again; ``LeaseLost`` if it was no longer ours."""

    def take(self, timeout: float) -> bool:
        """Take the lease, waiting at most ``timeout`` s (``BackendError`` if the
        store fails)."""
        deadline = time.monotonic() + timeout
        token = lock_token()
        check_holder = time.monotonic()
        while True:
            if self._try(token):
                return True
            now = time.monotonic()
            if now >= check_holder:
                # Held: by a process of this host that died (kill -9, a crash)?
                # Then its lease need not run out first.
                holder = self._holder()
                if holder is not None and holder_died(holder) and self._take_from(holder, token):
                    LOGGER.warning(
                        "typed_state: took over the lock %s from a process that died holding it",
                        self.name,
                    )
                    return True
                check_holder = now + _DEAD_HOLDER_CHECK
            if now >= deadline:
                return False
            time.sleep(min(self.poll, max(0.0, deadline - now)))


class SharedBackend(Backend):
    """A cache of a store other processes share, kept fresh by change messages."""

    shared = True
    store_name: ClassVar[str] = "the store"
    """How messages name the store ("Redis", "SQLite", "PostgreSQL")."""
    errors: ClassVar[tuple[type[Exception], ...]] = ()
    """The store client's own errors: each is a failure of the store, which its
    callers see as a ``BackendError``."""
    recovery: ClassVar[str] = "reconnects by itself when the store is back"
    """What typed_state does after a failure, for messages."""

    def __init__(self, url: str, app: str, *, lock_lease: float, renew_locks: bool) -> None:
        self.url = url
        self.app = app
        self.lock_lease = lock_lease
        self.renew_locks = renew_locks
        """Whether held locks are renewed in the background (off only in tests of expiry)."""
        self._namespaces: dict[str, Namespace] = {}
        self._member_watchers: dict[str, list[Callable[[], None]]] = {}
        self._locks: dict[tuple[str, str], LeaseLock] = {}
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._held: set[LeaseLock] = set()
        self._renewer: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._origin = uuid.uuid4().hex
        """This process's name in change messages (its own are ignored)."""
        self._listener: threading.Thread | None = None
        self._following = threading.Event()
        """Set once the listener follows the store's changes."""

    # -- what each store provides -----------------------------------------------------

    @abstractmethod
    def _where(self, namespace: str) -> str:
        """Where a namespace is stored, for messages (e.g. its Redis key)."""

    @abstractmethod
    def _load(self, namespace: str) -> Snapshot | None:
        """Every stored field of ``namespace``, read in one step; None if it is not stored."""

    @abstractmethod
    def _create(self, namespace: str, encoded: Mapping[str, bytes]) -> Snapshot:
        """Store the fields of ``encoded`` (JSONs) that are not stored yet (another process
        may have stored some: theirs stay), then read the namespace as ``_load``."""

    @abstractmethod
    def _feed(self) -> Generator[str | bytes | None, None, None]:
        """Follow the other processes' changes: connect, yield None once following
        (every change made after that is yielded), then each change message as it
        comes, or None when none came for a while (under a second); return when
        ``self._stop`` is set.  Raises one of ``errors`` (or
        ``BackendError``) when the store is lost: ``_listen`` backs off,
        calls it again, and re-reads what changed meanwhile (``_resync``)."""

    @abstractmethod
    def announce(self, namespace: str, names: list[str]) -> None:
        """Tell other processes to re-run the readers of these fields (``notify()``)."""

    @abstractmethod
    def _read(self, namespace: str, names: list[str]) -> tuple[int, list[Any], list[int]]:
        """The stored values of these fields (JSON, a list of item JSONs, or None), the
        namespace's version and the fields' change counts, read in one step.  The cache
        is the caller's to update: a value before its count (see ``_take``)."""

    @abstractmethod
    def _lease(self, namespace: str, field: str) -> StoreLease:
        """A new lease object for one field's lock."""

    @abstractmethod
    def refresh(self, namespace: str, names: list[str]) -> None:
        """Bring these fields up to date in the cache (their locks are held)."""

    @abstractmethod
    def _append_items(
        self, namespace: str, change: Append, codec: FieldCodec, held: list[LeaseLock]
    ) -> tuple[int, int] | None:
        """Append to a stored list field, fenced by ``held``: the namespace's version
        and the field's change count after it, or None if the namespace is no longer
        stored (deleted meanwhile: the append becomes a first write)."""

    def _first_use(self) -> None:
        """Check the store once, before the first read (permissions, settings)."""

    def _refused(self, exc: Exception) -> bool:
        """Whether a lost feed was refused (a permission) rather than cut off."""
        return False

    # -- errors -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        """Where the store is, for messages: its URL without a password."""
        return safe_url(self.url)

    @property
    def site(self) -> str:
        """How messages name the store: ``Redis at redis://host:6379/0``."""
        return f"{self.store_name} at {self.address}"

    def _failed(self, action: str, exc: Exception) -> BackendError:
        """The error for a failure of the store while doing ``action``."""
        return BackendError(
            f"{self.site} failed to {action}: {exc}. Nothing was changed; typed_state "
            f"{self.recovery}.",
            url=self.address,
            action=action,
        )

    @contextlib.contextmanager
    def _failing(self, action: str) -> Iterator[None]:
        """Turn the store client's errors raised inside into ``_failed``'s."""
        try:
            yield
        except self.errors as exc:
            raise self._failed(action, exc) from exc

    # -- reading ----------------------------------------------------------------------

    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        ns = self._attach(namespace, codec)
        found = self._load(namespace)
        if found is None:
            return None
        version, stored, changes = found
        if any(name not in stored for name in codec.names):
            # Fields the class gained: stored now, so every process agrees on them
            # (a renamed field's value read from its old name, through its alias).
            return self.create(namespace, codec.read(stored).values, codec)
        self._fill(ns, namespace, stored, version, changes)
        return ns.live

    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        ns = self._attach(namespace, codec)
        found = self._create(namespace, {n: codec.encode(n, v) for n, v in values.items()})
        version, stored, changes = found
        self._fill(ns, namespace, stored, version, changes)
        return ns.live

    def _read_through(
        self,
        ns: Namespace,
        namespace: str,
        stored: Mapping[str, Any],
        base: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Stored fields as the class reads them (see ``FieldCodec.read``); a value
        it cannot read is its default, with a warning, and is marked unreadable."""
        reading = ns.codec.read(stored, base)
        # Said once while it lasts: during a rolling deploy the older process reads
        # every change the newer one makes, and a warning per change floods the log.
        said, ns.broken_rule = ns.broken_rule, reading.rule
        if reading.rule is not None and said is None:
            message = (
                f"{ns.codec.cls.__name__} in {self.store_name} ({self._where(namespace)}) "
                f"breaks a rule of this definition of the class: {reading.rule}. Its values "
                "are shown as stored; a write must satisfy the rule again."
            )
            LOGGER.warning(message)
            warnings.warn(message, StoredValueWarning, stacklevel=3)
        for name in reading.values:
            found = reading.unreadable.get(name)
            if found is None:
                ns.unreadable.pop(name, None)
                continue
            said_already = name in ns.unreadable
            ns.unreadable[name] = found
            if said_already:
                continue
            message = (
                f"{ns.codec.cls.__name__}.{name} in {self.store_name} ({self._where(namespace)}) "
                f"holds {found.stored}, which this definition of the class cannot read: "
                f"{found.reason}. Showing the default {reading.values[name]!r} in this "
                "process; the stored value stays as it is. Writes that would build on the "
                "default (item operations, mutate(), a locked read-modify-write) are refused; "
                "migrate the stored value with a before-validator, or overwrite it on "
                "purpose with a plain assignment."
            )
            LOGGER.warning(message)
            warnings.warn(message, StoredValueWarning, stacklevel=3)
        return reading.values

    def unreadable(self, namespace: str, name: str) -> Unreadable | None:
        ns = self._namespaces.get(namespace)
        return None if ns is None else ns.unreadable.get(name)

    def _attach(self, namespace: str, codec: FieldCodec) -> Namespace:
        codec.check_storable(self.store_name)
        with self._mutex:
            ns = self._namespaces.get(namespace)
            if ns is None:
                ns = self._namespaces[namespace] = Namespace(codec)
            ns.codec = codec
        self._listen_from_now()
        return ns

    def _fill(
        self,
        ns: Namespace,
        namespace: str,
        stored: Mapping[str, Any],
        version: int,
        changes: Mapping[str, int],
    ) -> None:
        """Take a namespace's stored values (every stored name), as read in one step,
        into the cache."""
        ns.stored = True
        values = self._read_through(ns, namespace, stored)
        for name in [name for name in ns.live if name not in values]:
            del ns.live[name]  # a field of an earlier definition of the class
        for name, value in values.items():
            ns.live[name] = value
            ns.field_versions[name] = version
            ns.changes[name] = changes.get(name, 0)

    def attach(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        ns = self._attach(namespace, codec)
        ns.stored = False
        for name, value in values.items():
            ns.live[name] = value
            ns.field_versions[name] = 0
            ns.changes[name] = 0
        return ns.live

    def append(self, namespace: str, change: Append, codec: FieldCodec) -> bool:
        ns = self._namespaces[namespace]
        if ns.stored:
            held = self.held_locks(namespace, [change.name])
            stored = self._append_items(namespace, change, codec, held)
            if stored is not None:
                ns.live[change.name] = change.value
                ns.unreadable.pop(change.name, None)
                ns.field_versions[change.name], ns.changes[change.name] = stored
                return False
            ns.stored = False  # deleted meanwhile (drop, expiry): a first write again
        return self.save(namespace, {change.name: change.value}, codec, Write(change.quiet))

    def version(self, namespace: str, name: str) -> int:
        ns = self._namespaces.get(namespace)
        return 0 if ns is None else ns.changes.get(name, 0)

    def replace(self, namespace: str, values: Mapping[str, Any], codec: FieldCodec) -> None:
        # The class changed in this process only: other replicas may still run
        # the old one, so nothing is written back; writes store the new values.
        ns = self._attach(namespace, codec)
        for name in [n for n in ns.live if n not in values]:
            del ns.live[name]
        ns.live.update(values)

    def _take(self, ns: Namespace, name: str, value: Any, version: int, count: int) -> bool:
        """Put one field read from the store into the cache; whether its value changed.

        The value goes in before its change count: a reader that asks for the
        version first and then reads the value (a conditional write's read) may
        see a newer value than its version says, which only makes its write
        stale, but never a newer version with the older value, which would let
        a lost update through.
        """
        old = ns.live.get(name)
        ns.live[name] = value
        ns.field_versions[name] = max(version, ns.field_versions.get(name, 0))
        ns.changes[name] = count
        return differs(old, value) or type(old) is not type(value)

    def _refreshed(
        self,
        ns: Namespace,
        namespace: str,
        names: list[str],
        version: int,
        raw: list[Any],
        counts: list[int],
    ) -> None:
        """Take fields read under their locks into the cache.

        A newer value found here is another process's write, whatever its
        change message will say: the readers of this process re-run now (the
        message that follows then finds nothing new).
        """
        names, raw, counts = _held(ns, names, raw, counts)
        values = self._read_through(ns, namespace, dict(zip(names, raw, strict=True)), ns.live)
        changed = [
            name
            for name, count in zip(names, counts, strict=True)
            if self._take(ns, name, values[name], version, count)
        ]
        if changed:
            for callback in list(ns.callbacks):
                call(callback, changed, False)

    def _stored(
        self, ns: Namespace, values: Mapping[str, Any], version: int, changes: list[int]
    ) -> None:
        """Show a write this process stored (only once it is stored)."""
        ns.stored = True
        for (name, value), count in zip(values.items(), changes, strict=True):
            ns.live[name] = value
            ns.unreadable.pop(name, None)
            ns.field_versions[name] = version
            ns.changes[name] = count

    def detach(self, namespace: str) -> bool:
        with self._mutex:
            ns = self._namespaces.get(namespace)
            if ns is not None and ns.stored:
                return False
            self._namespaces.pop(namespace, None)
            for key in [k for k in self._locks if k[0] == namespace]:
                del self._locks[key]
            return True

    def _forget(self, namespaces: list[str]) -> None:
        with self._mutex:
            for namespace in namespaces:
                self._namespaces.pop(namespace, None)

    # -- change messages --------------------------------------------------------------

    def _message(
        self, namespace: str, names: list[str], items: dict[str, Any] | None = None, **flags: bool
    ) -> str:
        """A change message (see the module's docstring); ``items``: an append's ``a``
        (the items), ``c``, ``v`` and ``k``.  Redis's scripts write the same in Lua."""
        message = {"o": self._origin, "n": namespace, "f": names, **(items or {})}
        return json.dumps(message | {k: 1 for k, v in flags.items() if v})

    def _backoff(self, attempt: int) -> float:
        """Seconds before the listener's next attempt to reach the store again."""
        return _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]

    def watch(self, namespace: str, callback: Callable[[list[str], bool], None]) -> None:
        ns = self._namespaces.get(namespace)
        if ns is not None and callback not in ns.callbacks:
            ns.callbacks.append(callback)

    def watch_members(self, family: str, callback: Callable[[], None]) -> None:
        with self._mutex:
            callbacks = self._member_watchers.setdefault(family, [])
            if callback not in callbacks:
                callbacks.append(callback)
        # A lobby page may list a family's keys in a process that uses none of them.
        self._listen_from_now()

    def _received(self, data: bytes | str) -> None:
        """Act on one change message (another process's; our own are ignored)."""
        try:
            message = json.loads(data)
            origin, namespace = message["o"], message["n"]
            names = list(message["f"])
        except (ValueError, KeyError, TypeError):
            LOGGER.warning("typed_state: ignoring a malformed change message %r", data[:200])
            return
        if origin == self._origin:
            return
        dropped = bool(message.get("d"))
        if dropped or message.get("c"):
            family = family_of(namespace)
            for callback in self._member_watchers.get(family or "", ()):
                call(callback)
        ns = self._namespaces.get(namespace)
        if ns is None:
            return  # not used in this process
        if dropped:
            # Deleted elsewhere (drop() or expiry): instances of it are done
            # with; the next get() starts a fresh member.
            self._forget([namespace])
            for field_callback in list(ns.callbacks):
                call(field_callback, ns.codec.names, True)
            return
        if "a" in message:
            self._appended(namespace, ns, message)
            return
        # q: written under no_rerun (nobody re-runs); x: notify() (re-run even if equal).
        self._fetch(
            namespace, ns, names, quiet=bool(message.get("q")), force=bool(message.get("x"))
        )

    def _appended(self, namespace: str, ns: Namespace, message: dict[str, Any]) -> None:
        """Another process appended items: apply them if this process is one change
        behind on the field, else fetch it (a message was missed)."""
        (name,) = message["f"]
        quiet = bool(message.get("q"))
        if name not in ns.live:
            return
        changes = int(message["c"])
        if ns.changes.get(name) != changes - 1 or ns.codec.by_class:
            # Behind (a message was missed), or items that only the class can read
            # (its validators must see the whole new value).
            if ns.changes.get(name, 0) < changes:
                self._fetch(namespace, ns, [name], quiet=quiet)
            return
        try:
            added = ns.codec.decode_items(name, [item.encode() for item in message["a"]])
        except ValueError:  # does not validate, or cannot be parsed
            self._fetch(namespace, ns, [name], quiet=quiet)  # warns, as any fetch would
            return
        value = extended(ns.live[name], added, message.get("k"), ns.codec.origin(name))
        ns.live[name] = value
        ns.changes[name] = changes
        ns.field_versions[name] = max(int(message["v"]), ns.field_versions.get(name, 0))
        if not quiet:
            for callback in list(ns.callbacks):
                call(callback, [name], False)

    def _fetch(
        self,
        namespace: str,
        ns: Namespace,
        names: list[str],
        *,
        quiet: bool = False,
        force: bool = False,
    ) -> None:
        names = [n for n in names if n in ns.live]
        if not names:
            return
        version, raw, counts = self._read(namespace, names)
        # A value this process wrote (or locked and read) at a later version wins.
        newer = [version >= ns.field_versions.get(name, 0) for name in names]
        names = [name for name, take in zip(names, newer, strict=True) if take]
        raw = [value for value, take in zip(raw, newer, strict=True) if take]
        counts = [count for count, take in zip(counts, newer, strict=True) if take]
        values = self._read_through(ns, namespace, dict(zip(names, raw, strict=True)), ns.live)
        changed = [
            name
            for name, count in zip(names, counts, strict=True)
            if self._take(ns, name, values[name], version, count)
        ]
        if force:
            changed = names
        if changed and not quiet:
            for callback in list(ns.callbacks):
                call(callback, changed, False)

    def _listen_from_now(self) -> None:
        """Start following other processes' changes (once; before the first read returns:
        a value read after this is either read after a change or hears of it)."""
        if self._listener is not None:
            return
        self._first_use()
        with self._mutex:
            started = self._listener is None
            if started:
                self._listener = self._thread(self._listen, f"typed_state-{self.store_name}")
        if started:
            self._following.wait(_FOLLOW_WAIT)

    @property
    def _lost_errors(self) -> tuple[type[Exception], ...]:
        return (*self.errors, BackendError)

    def _listen(self) -> None:
        """The listener: act on every change message of the feed, and when the store is
        lost, back off, follow it again and re-read what this process holds."""
        attempt = 0
        while not self._stop.is_set():
            feed = self._feed()
            try:
                for message in feed:
                    if attempt:
                        # Changes made while we could not follow were never heard of.
                        self._resync()
                        LOGGER.warning("typed_state: %s is back", self.site)
                        attempt = 0
                    self._following.set()
                    if message is not None:
                        self._received(message)
            except self._lost_errors as exc:
                # The first use waits no longer: its own read fails or finds the store.
                self._following.set()
                refused = self._refused(exc)
                if attempt == 0:
                    LOGGER.warning(
                        "typed_state: %s %s (%s); retrying",
                        "the user may not follow changes on" if refused else "lost",
                        self.site,
                        exc,
                    )
                self._stop.wait(LONGEST_BACKOFF if refused else self._backoff(attempt))
                attempt += 1
            except Exception:  # a bug must not silently end the listener
                LOGGER.exception("typed_state: %s listener error", self.store_name)
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):
                    feed.close()

    def _resync(self) -> None:
        """Re-read every stored field this process holds (changes may have been missed)."""
        for namespace, ns in list(self._namespaces.items()):
            if ns.stored:
                self._fetch(namespace, ns, ns.codec.names)

    def _thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Start a daemon thread that ``close`` waits for."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    # -- locks ------------------------------------------------------------------------

    def lock(self, namespace: str, field: str) -> FieldLock:
        return get_or_create(
            self._locks,
            (namespace, field),
            self._mutex,
            lambda: LeaseLock(self, namespace, field, self._lease(namespace, field)),
        )

    def held_locks(self, namespace: str, names: list[str]) -> list[LeaseLock]:
        """The locks of these fields that the calling thread holds (a write is fenced by them)."""
        return [
            lock
            for name in names
            if (lock := self._locks.get((namespace, name))) is not None and lock.held_here()
        ]

    def _holding(self, lock: LeaseLock, held: bool) -> None:
        """Note that ``lock`` was taken (True) or released (False) in the store."""
        with self._mutex:
            if held:
                self._held.add(lock)
            else:
                self._held.discard(lock)
            if held and self.renew_locks and self._renewer is None:
                self._renewer = self._thread(self._renew, f"typed_state-{self.store_name}-locks")

    def _renew(self) -> None:
        """Every third of a lease, give every held lock a full lease again.

        A holder that is still working (a long ``mutate()`` block) then keeps
        its lock; one whose process died stops renewing, and the lease frees it.
        """
        while not self._stop.wait(self.lock_lease / 3):
            with self._mutex:
                held = list(self._held)
            for lock in held:
                lock.renew()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


class LeaseLock:
    """A field lock across processes: a local RLock, then a lease in the store.

    The local lock makes it re-entrant within a thread and lets only one
    thread of the process compete for the lease, which is why the lease's
    token can live on the object: the renewing thread and the fenced write
    read it.
    """

    __slots__ = (
        "_backend",
        "_depth",
        "_field",
        "_lease",
        "_local",
        "_lost",
        "_namespace",
        "_owner",
        "_renewing",
    )

    def __init__(
        self, backend: SharedBackend, namespace: str, field: str, lease: StoreLease
    ) -> None:
        self._backend = backend
        self._namespace = namespace
        self._field = field
        self._lease = lease
        self._local = threading.RLock()
        self._renewing = threading.Lock()
        self._depth = 0
        self._owner: int | None = None
        self._lost = False

    @property
    def name(self) -> str:
        """The lock's key in the store."""
        return self._lease.name

    @property
    def token(self) -> Any:
        """The holder's token, the lock's value in the store while it is held."""
        return self._lease.token

    def held_here(self) -> bool:
        """Whether the calling thread holds this lock."""
        return self._depth > 0 and self._owner == threading.get_ident()

    def lost(self) -> LockLostError:
        """The error for a lock whose lease ran out while it was held."""
        state = StateId.of(self._namespace)
        return LockLostError(
            f"the lock on {state.title}.{self._field} expired while it was held: "
            f"its {self._backend.lock_lease:g} s lease (TYPED_STATE_LOCK_LEASE) ran out, so "
            "another process may have written the field meanwhile; nothing was stored "
            "after that. Keep locked blocks shorter than the lease, or raise lock_lease",
            state=state.title,
            key=state.key,
            field=self._field,
            lease=self._backend.lock_lease,
        )

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._local.acquire(timeout=timeout):
            return False
        if self._depth == 0:
            try:
                if not self._lease.take(max(0.0, deadline - time.monotonic())):
                    self._local.release()
                    return False
            except BackendError:
                self._local.release()
                raise
            self._owner = threading.get_ident()
            self._lost = False
            self._backend._holding(self, True)
            try:
                self._backend.refresh(self._namespace, [self._field])
            except BackendError:
                self._give_back()
                self._owner = None
                self._local.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._owner = None
                lost = self._lost
                try:
                    self._give_back()
                except LeaseLost:
                    lost = True
                except BackendError as exc:
                    # Its lease frees it in the store; this process is free already.
                    LOGGER.warning("typed_state: could not release a lock: %s", exc)
                if lost:
                    raise self.lost()
        finally:
            self._local.release()

    def _give_back(self) -> None:
        with self._renewing:
            self._backend._holding(self, False)
            self._lease.give_back()

    def renew(self) -> None:
        """Give the held lock a full lease again (from the renewing thread)."""
        with self._renewing:
            if self._lease.token is None:
                return  # released meanwhile
            try:
                self._lease.extend()
            except LeaseLost:
                self._lost = True
                self._backend._holding(self, False)
                LOGGER.warning(
                    "typed_state: the lock on %s.%s expired before it could be renewed",
                    StateId.of(self._namespace).title,
                    self._field,
                )
            except BackendError as exc:
                LOGGER.warning("typed_state: could not renew a lock: %s", exc)


def _held(
    ns: Namespace, names: list[str], raw: list[Any], counts: list[int]
) -> tuple[list[str], list[Any], list[int]]:
    """The fields of a read that this process holds (a field of the class), in step."""
    kept = [i for i, name in enumerate(names) if name in ns.live]
    return [names[i] for i in kept], [raw[i] for i in kept], [counts[i] for i in kept]


def call(callback: Callable[..., None], *args: Any) -> None:
    """Call a watcher; its failure is logged, never allowed to end the listener."""
    try:
        callback(*args)
    except Exception:
        LOGGER.exception("typed_state: change callback failed")
