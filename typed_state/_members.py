"""Which state instances this process holds, and the lives of a family's members.

One ``Slot`` per backend URL and namespace.  A family (a class used with
``get(key=...)``) has members that come and go: a member exists in the store
from its first write, not from a read, so a visitor typing keys in the URL
grows nothing; ``keys()`` binds the reading session like a field, re-run when a
member is created or deleted, in this process or another; and, with
``StateConfig(typed_state_ttl=..., typed_state_max_keys=...)``, idle members and
the least recently used ones beyond a count are deleted.

A member's last use (a write, or a ``get(key=)``, noted at most every
``_MARK_EVERY`` seconds) is kept in the store, so that every process
agrees on it; a member that a live session of some process reads is never
deleted for being idle: this process keeps it from expiring here, and in a
shared store (Redis, SQLite) a heartbeat notes the members its sessions read as used.  Expiry runs
when the family is used (``get(key=)``, ``keys()``), at most every
``_SWEEP_EVERY`` seconds, and right after a write creates a member beyond
``typed_state_max_keys``.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import TYPE_CHECKING, cast

from typed_state import _clock, _streamlit
from typed_state._backends._base import Expiry, MemberIndex
from typed_state._config import settings
from typed_state._engine import Members, engine
from typed_state._errors import ConfigurationError
from typed_state._ids import StateId, family_of, key_of
from typed_state._open import backend_for
from typed_state._slot import Slot

if TYPE_CHECKING:
    from typed_state._backends import Backend
    from typed_state._model import SharedState
    from typed_state._streamlit import Run

_LOGGER = logging.getLogger("typed_state")

_MARK_EVERY = 1.0
"""Seconds between two notes of a member's use by ``get(key=)`` (at most; less with a short ttl)."""

_SWEEP_EVERY = 1.0
"""Seconds between two expiry sweeps of a family in this process (at most)."""

_SLOTS: dict[tuple[str, str], Slot] = {}
_FAMILIES: dict[tuple[str, str], Family] = {}
_LOCK = threading.Lock()


def url_of(cls: type[SharedState]) -> str:
    """The backend URL of ``cls``: its own ``typed_state_url``, else the setting."""
    url = cls.model_config.get("typed_state_url")
    return str(url) if url else settings().url


def slot_for(cls: type[SharedState], key: str | None, *, use: bool = True) -> Slot:
    """The slot of ``cls`` (of its member ``key``), made on first use.

    A slot whose member was deleted (``drop()``, expiry, another process) is
    replaced by a fresh one: the member starts again from its defaults.
    ``use=False`` (the inspector looking) does not count as a use of the member.
    """
    url = url_of(cls)
    base = cls.__typed_state_namespace__
    family = None if key is None else family_for(cls, url)
    namespace = StateId(base, key).namespace
    slot = _SLOTS.get((url, namespace))
    if slot is None or slot.dropped:
        with _LOCK:
            slot = _SLOTS.get((url, namespace))
            if slot is None or slot.dropped:
                backend = backend_for(url)
                if backend.shared and not _streamlit.in_server():
                    _check_outside_a_server(cls)
                slot = _SLOTS[(url, namespace)] = Slot(cls, namespace, key, backend, family)
                if key is not None:
                    _VISITED[(url, namespace)] = None
                    if len(_VISITED) > VISITED_KEPT:
                        _forget_visits()
    if family is not None and use:
        family.used(slot)
    return slot


VISITED_KEPT = 500
"""Members this process keeps a slot for although nobody wrote them (only visited:
``get(key=)``), past which the least recently made ones nobody shows are forgotten."""

_VISITED: dict[tuple[str, str], None] = {}
"""Member slots made, oldest first (a dict keeps its order): candidates to forget."""


def _forget_visits() -> None:
    """Forget the oldest visited members that were never written and that no live
    session shows: each get(key=) of a new key kept ~2 kB for ever (50,000 visits,
    100 MB), ttl and max_keys notwithstanding, which see only stored members.
    Called with ``_LOCK`` held."""
    shown = engine().read_namespaces()
    for where in list(_VISITED)[: len(_VISITED) - VISITED_KEPT // 2]:
        del _VISITED[where]
        slot = _SLOTS.get(where)
        if slot is None or where[1] in shown:
            continue
        if slot.backend.detach(where[1]):  # never stored: nothing is lost
            del _SLOTS[where]
            slot.dropped = True  # an instance still held elsewhere asks for get() again
            engine().forget_namespace(where[1])
            if slot.family is not None:
                slot.family.forget(where[1])


_WARNED: set[str] = set()


def _check_outside_a_server(cls: type[SharedState]) -> None:
    """A process that is no Streamlit server (a worker, a job) shares a store with an
    app only if the class is the app's: say so once where it cannot be, instead of
    writing where no page reads.  (A shared store refuses to open without the app's
    name, the other thing that must match.)"""
    if cls.__typed_state_namespace__.startswith("__main__:") and cls.__name__ not in _WARNED:
        _WARNED.add(cls.__name__)
        warnings.warn(
            f"typed_state: {cls.__name__} is defined in the script this process runs, so it "
            f"is stored as {cls.__typed_state_namespace__!r}, which no page of an app reads: "
            "import the class from the module the app imports",
            UserWarning,
            stacklevel=4,
        )


def family_for(cls: type[SharedState], url: str) -> Family:
    """The family of ``cls`` under ``url``, following the newest class's config."""
    family = _FAMILIES.get((url, cls.__typed_state_namespace__))
    if family is None:
        with _LOCK:
            family = _FAMILIES.get((url, cls.__typed_state_namespace__))
            if family is None:
                family = _FAMILIES[(url, cls.__typed_state_namespace__)] = Family(
                    cls, url, backend_for(url)
                )
    family.follow(cls)
    return family


def keys(cls: type[SharedState]) -> list[str]:
    """The keys of the members of ``cls``'s family; binds the reading run."""
    family = family_for(cls, url_of(cls))
    run = _streamlit.current_run()
    if run is not None:
        engine().bind(run, family.keys_key)
    family.maybe_sweep()
    return [key_of(ns) or "" for ns in family.members.members(family.name)]


def drop(cls: type[SharedState], key: str) -> bool:
    """Delete the member ``key`` of ``cls``'s family; False if it held nothing."""
    url = url_of(cls)
    family = family_for(cls, url)
    namespace = StateId(family.name, key).namespace
    with _LOCK:
        slot = _SLOTS.pop((url, namespace), None)
    deleted = slot.drop() if slot is not None else family.backend.delete(namespace)
    if deleted:
        family.members_changed(_streamlit.current_run())
    return deleted


def families() -> list[Family]:
    """Every family this process used."""
    return list(_FAMILIES.values())


def slots() -> list[tuple[str, Slot]]:
    """Every slot of this process, with its namespace."""
    return [(namespace, slot) for (_, namespace), slot in list(_SLOTS.items())]


def reset() -> None:
    """Forget every slot and family (tests)."""
    with _LOCK:
        for family in _FAMILIES.values():
            family.close()
        _FAMILIES.clear()
        _SLOTS.clear()
        _VISITED.clear()


class Family:
    """The members of one keyed class under one backend, and their expiry."""

    def __init__(self, cls: type[SharedState], url: str, backend: Backend) -> None:
        if not isinstance(backend, MemberIndex):
            raise ConfigurationError(
                f"{cls.__name__}.get(key=...) needs a store that keeps a family's members; "
                f"{type(backend).__name__} ({url}) does not: use get() without a key, or "
                "memory://, sqlite:// or redis://"
            )
        self.name = cls.__typed_state_namespace__
        self.url = url
        self.backend = backend
        self.members: MemberIndex = backend
        self.keys_key = Members(self.name)
        self.ttl: float | None = None
        self.max_keys: int | None = None
        self._cls: type[SharedState] | None = None
        self._marked: dict[str, float] = {}
        self._next_sweep = float("-inf")
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.members.watch_members(self.name, lambda: self.members_changed(None))

    def follow(self, cls: type[SharedState]) -> None:
        """Take the lifecycle settings of ``cls`` (a page may re-define its class)."""
        if cls is self._cls:
            return
        self._cls = cls
        config = cls.model_config
        # Checked when the class was made (_model._check_lifecycle).
        self.ttl = cast("float | None", config.get("typed_state_ttl"))
        self.max_keys = cast("int | None", config.get("typed_state_max_keys"))
        if self.ttl is not None and self.backend.shared and self._heartbeat is None:
            self._heartbeat = threading.Thread(
                target=self._beat, name="typed_state-members", daemon=True
            )
            self._heartbeat.start()

    @property
    def cls(self) -> type[SharedState] | None:
        """The newest class the family was used with."""
        return self._cls

    @property
    def _lifecycle(self) -> bool:
        return self.ttl is not None or self.max_keys is not None

    def members_changed(self, writer: Run | None) -> None:
        """A member was created or deleted: re-run the sessions that list the keys."""
        engine().changed([self.keys_key], writer)

    def created(self, writer: Run | None) -> None:
        """A write created a member (called by its slot)."""
        self.members_changed(writer)
        if self.max_keys is not None:
            self.sweep()

    def used(self, slot: Slot) -> None:
        """A ``get(key=)`` of ``slot``'s member: note the use, expire what is due."""
        if not self._lifecycle:
            return
        now = _clock.now()
        every = _MARK_EVERY if self.ttl is None else min(_MARK_EVERY, self.ttl / 4)
        if now - self._marked.get(slot.namespace, float("-inf")) >= every:
            self._marked[slot.namespace] = now
            self.members.mark_used(slot.namespace, now)
        self.maybe_sweep(now)

    def maybe_sweep(self, now: float | None = None) -> None:
        """Expire members if the last sweep of this process is old enough."""
        if not self._lifecycle:
            return
        now = _clock.now() if now is None else now
        if now >= self._next_sweep:
            self.sweep(now)

    def sweep(self, now: float | None = None) -> None:
        """Delete the idle members and those beyond ``max_keys``; re-run their readers."""
        now = _clock.now() if now is None else now
        every = _SWEEP_EVERY if self.ttl is None else min(_SWEEP_EVERY, self.ttl / 4)
        self._next_sweep = now + every
        rule = Expiry(
            idle_since=None if self.ttl is None else now - self.ttl,
            max_keys=self.max_keys,
            keep=self._read_here(),
        )
        dropped = self.members.expire(self.name, rule)
        for namespace in dropped:
            self._marked.pop(namespace, None)
            slot = _SLOTS.get((self.url, namespace))
            if slot is not None:
                slot.deleted_elsewhere()
        if dropped:
            _LOGGER.info("typed_state: expired %s", ", ".join(dropped))
            self.members_changed(None)

    def forget(self, namespace: str) -> None:
        """Drop what is kept for a member this process no longer holds."""
        self._marked.pop(namespace, None)

    def heartbeat(self) -> None:
        """Note as used the members that live sessions of this process read.

        Under a shared store the other processes cannot see them: without
        this, a member everybody is looking at but nobody writes would expire.
        """
        now = _clock.now()
        for namespace in self._read_here():
            self._marked[namespace] = now
            self.members.mark_used(namespace, now)

    def _read_here(self) -> set[str]:
        return {ns for ns in engine().read_namespaces() if family_of(ns) == self.name}

    def _beat(self) -> None:
        while not self._stop.wait(max(0.5, min(30.0, (self.ttl or 120.0) / 4))):
            try:
                self.heartbeat()
            except Exception:  # a store that is away for a while: try again next beat
                _LOGGER.warning("typed_state: could not note members of %s as used", self.name)

    def close(self) -> None:
        """Stop the heartbeat (tests, shutdown)."""
        self._stop.set()
