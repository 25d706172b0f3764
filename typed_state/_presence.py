"""Presence: how many sessions show a state, and who, in every process.

A session is present on a state from its first use of it in a run (``get()``
or a field read) until a later run of it that does not use it has ended, it
asks for another page, or it closes (see ``Engine.showing``).  Reading
``presence()`` or ``present()`` binds the session like a field: when the count
or the labels change, it re-runs, coalesced like any push.

A tick on the server's event loop, every ``_TICK`` seconds while sessions
use states, sees runs end and sessions leave, re-runs the sessions whose
presence changed, and, under a shared store, publishes this process's presence
there (entries that expire ``_EXPIRY`` seconds after the last heartbeat, so
a replica that dies drops out) and reads the other processes'.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from typed_state import _clock, _members, _streamlit
from typed_state._backends._base import PresenceBoard
from typed_state._engine import Presence, engine
from typed_state._ids import family_of, key_of

if TYPE_CHECKING:
    from typed_state._backends import Backend
    from typed_state._slot import Slot
    from typed_state._streamlit import Run

_LOGGER = logging.getLogger("typed_state")

_TICK = 1.0
"""Seconds between two looks at who is where."""

_HEARTBEAT = 5.0
"""Seconds between two refreshes of this process's entries in a shared store."""

_EXPIRY = 15.0
"""Seconds after which a process's entries in a shared store no longer count (it died)."""

Shown = dict[str, list[str | None]]
"""Per namespace, the labels of the sessions present (None for a session without one)."""


class _Presence:
    def __init__(self) -> None:
        self.ticking = False
        self.lock = threading.Lock()
        self.totals: dict[Presence, tuple[int, tuple[str, ...]]] = {}
        """What the watching sessions last saw, per presence: count and labels."""
        self.remote: dict[tuple[PresenceBoard, str], Shown] = {}
        """Per (shared backend, group), the other processes' presence, from the last tick."""
        self.shared: dict[PresenceBoard, dict[str, Shown]] = {}
        """Per shared backend, what this process last published, per group."""
        self.heartbeat = float("-inf")
        self.labels: dict[str, dict[str, str]] = {}
        """Per session id, per namespace, who the session says it is (``present_as``)."""
        self.ticks = 0
        """Looks taken so far (tests wait for a count of them, not for the clock)."""


_STATE = _Presence()


def group_of(namespace: str) -> str:
    """Where a namespace's presence is kept in a shared store: its family, or itself."""
    return family_of(namespace) or namespace


# -- reads (in a script run, or any thread) --------------------------------------------------


def present_as(run: Run, namespace: str, label: str) -> None:
    """Who the session of ``run`` is, for presence on ``namespace``."""
    engine().use(run, namespace)
    with _STATE.lock:
        _STATE.labels.setdefault(run.session_id, {})[namespace] = label


def _showing(*, on_loop: bool = False) -> Shown:
    """Per namespace, the labels of this process's sessions present on it (None for a
    session that gave none); labels of sessions that are gone are forgotten."""
    sessions = engine().showing(on_loop=on_loop)
    labels = _STATE.labels
    found = {
        namespace: [labels.get(session_id, {}).get(namespace) for session_id in ids]
        for namespace, ids in sessions.items()
    }
    if labels:
        here = {session_id for ids in sessions.values() for session_id in ids}
        with _STATE.lock:
            for session_id in [s for s in labels if s not in here]:
                del labels[session_id]
    return found


def shown(slot: Slot) -> list[str | None]:
    """The sessions present on ``slot``'s state, in every process; binds the current run."""
    namespace = slot.namespace
    labels = _showing().get(namespace, [])
    labels = labels + _others(slot.backend, group_of(namespace)).get(namespace, [])
    _bind(Presence(namespace), labels)
    return labels


def by_key(family: str, backend: Backend) -> dict[str, int]:
    """Per member key of ``family``, how many sessions are present; binds the current run."""
    counts: dict[str, int] = {}
    seen: list[str | None] = []
    for shown_somewhere in (_showing(), _others(backend, family)):
        for namespace, labels in shown_somewhere.items():
            key = key_of(namespace)
            if key is not None and family_of(namespace) == family:
                counts[key] = counts.get(key, 0) + len(labels)
                seen += [f"{namespace}:{label}" for label in labels]
    _bind(Presence(family, by_key=True), seen)
    return dict(sorted(counts.items()))


def shown_here() -> Shown:
    """Every namespace's presence, this process's and the others' as of the last tick;
    binds nothing (for the inspector)."""
    found = _showing()
    for remote in list(_STATE.remote.values()):
        for namespace, labels in remote.items():
            found.setdefault(namespace, []).extend(labels)
    return found


def _bind(key: Presence, labels: list[str | None]) -> None:
    run = _streamlit.current_run()
    if run is not None:
        engine().bind(run, key)
        # The first reader's view is what the tick compares with.
        _STATE.totals.setdefault(key, _summary(labels))
        start()


def _others(backend: Backend, group: str) -> Shown:
    """Other processes' presence in ``group`` (from the last tick, or read now)."""
    if not isinstance(backend, PresenceBoard):
        return {}  # a store of this process alone: nobody else to count
    cached = _STATE.remote.get((backend, group))
    if cached is None:
        cached = _STATE.remote[(backend, group)] = backend.others_presence([group], _clock.now())
    return cached


# -- the tick (on the server's event loop) ---------------------------------------------------


def start() -> None:
    """Tick while sessions use states (called by every ``get()``: one check when ticking)."""
    state = _STATE
    if state.ticking:
        return
    sessions = engine().sessions()
    if sessions is None:
        return
    with state.lock:
        if not state.ticking:
            state.ticking = sessions.call_later(_TICK, _tick)


def ticks() -> int:
    """How many times presence was looked at in this process."""
    return _STATE.ticks


def _tick() -> None:
    _STATE.ticks += 1
    try:
        _look()
    except Exception:  # a store that is away: look again next tick
        _LOGGER.warning("typed_state: presence could not be updated", exc_info=True)
    sessions = engine().sessions()
    with _STATE.lock:
        _STATE.ticking = (
            sessions is not None
            and engine().tracked_sessions() > 0
            and sessions.call_later(_TICK, _tick)
        )


def _look() -> None:
    """See who is where; publish and read shared presence; re-run who watches a change."""
    local = _showing(on_loop=True)
    now = _clock.now()
    groups: dict[PresenceBoard, set[str]] = {}
    for namespace, slot in _members.slots():
        if isinstance(slot.backend, PresenceBoard):
            groups.setdefault(slot.backend, set()).add(group_of(namespace))
    beat = now - _STATE.heartbeat >= _HEARTBEAT
    if beat:
        _STATE.heartbeat = now
    for backend, in_use in groups.items():
        mine: dict[str, Shown] = {group: {} for group in in_use}
        for namespace, labels in local.items():
            group = group_of(namespace)
            if group in mine:
                mine[group][namespace] = labels
        if beat or mine != _STATE.shared.get(backend):
            backend.share_presence(mine, now + _EXPIRY)
            _STATE.shared[backend] = mine
    _STATE.remote.clear()
    topics = engine().watched(Presence)
    watched = {topic.namespace for topic in topics if not topic.by_key}
    families = {topic.namespace for topic in topics if topic.by_key}
    wanted = sorted({group_of(ns) for ns in watched} | families)
    for backend in groups:
        if wanted:
            everything = backend.others_presence(wanted, now)
            for group in wanted:
                _STATE.remote[(backend, group)] = {
                    ns: labels for ns, labels in everything.items() if group_of(ns) == group
                }
    changed = []
    for namespace in watched:
        labels = list(local.get(namespace, []))
        for (_, group), remote in _STATE.remote.items():
            if group == group_of(namespace):
                labels += remote.get(namespace, [])
        changed += _note(Presence(namespace), labels)
    for family in families:
        labels = [
            f"{ns}:{label}"
            for ns, here in local.items()
            if family_of(ns) == family
            for label in here
        ]
        for (_, group), remote in _STATE.remote.items():
            if group == family:
                labels += [f"{ns}:{label}" for ns, there in remote.items() for label in there]
        changed += _note(Presence(family, by_key=True), labels)
    if changed:
        engine().changed(changed, None)


def _note(key: Presence, labels: list[str | None]) -> list[Presence]:
    """``[key]`` if what its watchers see changed since the last look."""
    seen = _summary(labels)
    previous = _STATE.totals.get(key)
    _STATE.totals[key] = seen
    return [key] if previous is not None and previous != seen else []


def _summary(labels: list[str | None]) -> tuple[int, tuple[str, ...]]:
    return len(labels), tuple(sorted(str(label) for label in labels))


def reset() -> None:
    """Forget everything (tests)."""
    global _STATE
    _STATE = _Presence()
