"""The interface every store implements.

A backend keeps, per namespace (one state instance: class and key), the values
of its fields, and gives a lock per field.  Values cross this interface as the
Python objects the model validated; a backend that leaves the process encodes
them with the ``FieldCodec`` it is given.  Backends know nothing of
Streamlit or of re-runs: a store shared with other processes reports their
writes through ``Backend.watch``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from typed_state._backends._codec import FieldCodec, Unreadable


class StaleVersions(Exception):
    """A conditional write found fields at other versions than expected; nothing stored."""

    def __init__(self, found: dict[str, int]) -> None:
        super().__init__(found)
        self.found = found


@dataclass(frozen=True, slots=True)
class Write:
    """How a write is made."""

    quiet: bool = False
    """Made under ``no_rerun``: other processes update their values, nobody re-runs."""
    expect: Mapping[str, int] | None = None
    """Field -> version: store nothing unless every field named is still at that
    version, checked atomically with the write (``StaleVersions`` otherwise)."""


PLAIN = Write()


@dataclass(frozen=True, slots=True)
class Append:
    """Items added at the end of a list field, as one change."""

    name: str
    items: list[Any]
    value: Any
    """The field's new value: its old value with ``items`` (only the last ``keep_last``)."""
    keep_last: int | None = None
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class Expiry:
    """Which members of a family a sweep deletes."""

    idle_since: float | None = None
    """Members last used before this time (``_clock.now()``), if not None..."""
    max_keys: int | None = None
    """...then the least recently used ones beyond this many."""
    keep: Collection[str] = ()
    """Members never deleted for being idle (live sessions of this process read them)."""

    def doomed(self, used: Mapping[str, float]) -> list[str]:
        """The members to delete, given each one's last use."""
        left = dict(used)
        doomed = []
        if self.idle_since is not None:
            idle_since = self.idle_since
            doomed = [ns for ns, when in left.items() if when < idle_since and ns not in self.keep]
            for namespace in doomed:
                del left[namespace]
        if self.max_keys is not None and len(left) > self.max_keys:
            doomed += sorted(left, key=left.__getitem__)[: len(left) - self.max_keys]
        return doomed


class FieldLock(Protocol):
    """A re-entrant lock on one field of one state instance."""

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; False if not taken."""
        ...

    def release(self) -> None:
        """Release the lock once (it is re-entrant)."""
        ...


class Backend(ABC):
    """Storage for the values of shared states.

    A namespace holds nothing in the store until its first write: reading a
    member of a family (``Room.get(key=...)``) shows the defaults and stores
    nothing, so nobody grows the store by typing keys in the URL.
    """

    shared: ClassVar[bool] = False
    """Whether other processes share the store (and so cannot see this one's readers)."""

    @abstractmethod
    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        """The live values of ``namespace``, None if nothing is stored for it.

        The returned dict is the backend's own: the model reads from it on
        every field read and must not change it except through ``save``.
        """

    @abstractmethod
    def attach(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        """Live values for a namespace that holds nothing yet: ``values`` (the
        defaults), stored with the first ``save``."""

    @abstractmethod
    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        """Store the fields of ``values`` not stored yet; return the live values."""

    @abstractmethod
    def save(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec, how: Write = PLAIN
    ) -> bool:
        """Store these fields of ``namespace`` (the caller holds their locks).

        Returns True when this write created the namespace in the store (its
        first write: the other live values are stored with it).  A member's
        write also counts as a use of it (``mark_used``).  Each stored
        field's version goes up by one.  Other processes sharing the store hear
        of the change, quietly if ``how.quiet``; ``how.expect`` makes the write
        conditional (see ``Write``).

        Raises ``typed_state.BackendError`` when they could not be stored;
        the live values are then unchanged.
        """

    def append(self, namespace: str, change: Append, codec: FieldCodec) -> bool:
        """Store ``change.value``, the list field's old value with ``change.items``
        appended, as one change; as ``save`` otherwise.

        A store that keeps a list as a list sends and stores only the items.
        """
        return self.save(namespace, {change.name: change.value}, codec, Write(change.quiet))

    @abstractmethod
    def version(self, namespace: str, name: str) -> int:
        """How many changes of the field were stored (0 for a field never written)."""

    @abstractmethod
    def replace(self, namespace: str, values: Mapping[str, Any], codec: FieldCodec) -> None:
        """Make ``values`` the live values of ``namespace`` (the class changed)."""

    @abstractmethod
    def lock(self, namespace: str, field: str) -> FieldLock:
        """The lock of one field; the same lock for the same field every time."""

    @abstractmethod
    def delete(self, namespace: str) -> bool:
        """Remove a namespace; False if it did not exist."""

    @abstractmethod
    def detach(self, namespace: str) -> bool:
        """Forget a member this process holds that was never stored (the store is not
        touched); False, forgetting nothing, if it is stored."""

    def unreadable(self, namespace: str, name: str) -> Unreadable | None:
        """What is stored for a field that the class cannot read (it shows the field's
        default instead), else None.  A store private to this process holds only what
        its classes validated."""
        return None

    def announce(self, namespace: str, names: list[str]) -> None:  # noqa: B027
        """Tell other processes to re-run the readers of these fields (``notify()``)."""

    def watch(self, namespace: str, callback: Callable[[list[str], bool], None]) -> None:  # noqa: B027
        """Call ``callback(field names, dropped)`` when another process changed fields
        of ``namespace`` (``dropped``: it deleted the namespace).

        A store private to this process has no other writers: nothing to do.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (connections, threads)."""


@runtime_checkable
class MemberIndex(Protocol):
    """What a store needs for families (``get(key=...)``, ``keys()``, ``ttl``,
    ``max_keys``): it lists a family's members and knows when each was last used.
    A store without it serves states that are no family."""

    def members(self, family: str) -> list[str]:
        """The stored members of ``family`` (their namespaces), sorted; what it costs
        grows with the family, not with the store."""
        ...

    def mark_used(self, namespace: str, when: float) -> None:
        """Note that a member of a family was used at ``when`` (nothing if it is not stored)."""
        ...

    def expire(self, family: str, rule: Expiry) -> list[str]:
        """Delete the members of ``family`` that ``rule`` dooms; the namespaces deleted."""
        ...

    def watch_members(self, family: str, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when another process created or deleted a member of ``family``."""
        ...


@runtime_checkable
class PresenceBoard(Protocol):
    """What a store shared by processes needs for presence across them: each process's
    entries, valid until a time.  Without it, presence counts this process's sessions."""

    def share_presence(
        self, groups: Mapping[str, Mapping[str, list[str | None]]], until: float
    ) -> None:
        """Publish this process's presence, per group (a family, or a namespace of its
        own): per namespace, the labels of the sessions present; valid until ``until``."""
        ...

    def others_presence(self, groups: list[str], now: float) -> dict[str, list[str | None]]:
        """The other processes' presence in these groups, per namespace (entries
        still valid at ``now``)."""
        ...


def safe_url(url: str) -> str:
    """The URL without its user and password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


WRITE_DEADLINE: ContextVar[float | None] = ContextVar("typed_state_write_deadline", default=None)
"""When (``time.monotonic()``) the locked write going on in this thread must give up:
a store that waits for another process (SQLite's busy wait) waits no longer."""
