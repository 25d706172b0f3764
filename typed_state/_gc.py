"""The frozen heap: the server's long-lived objects out of Streamlit's per-run collections.

Streamlit ends every script run with ``gc.collect(2)`` (``runner.postScriptGC``),
which walks every tracked object of the process with the GIL held: with the
~80k objects of a Streamlit + Pydantic server that is tens of milliseconds per
run, and it is most of what a push to many sessions costs.  ``gc.freeze()``
moves every object alive at that moment to a permanent generation that
collections skip.

On by default in a ``streamlit run`` server (``TYPED_STATE_GC_FREEZE=0`` or
``[typed_state] gc_freeze = false`` turns it off and leaves ``gc`` alone); a
process that is no server (a worker, pytest, AppTest) freezes only if it asks.

- **First freeze**: on the server's event loop, once no session has a run
  running or queued after the first run that used a state, so what is frozen is
  the server's and the app's modules, not a run's temporaries.
- **Refreeze**: a frozen object that later dies in a reference cycle is never
  freed, and what the server builds later (sessions, a big field) is walked by
  every run again.  So now and then, at a quiet moment on the loop,
  ``gc.unfreeze(); gc.collect(); gc.freeze()``: memory kept by the freeze is
  bounded by what died since the last refreeze, and long-lived new objects
  leave the per-run walk.  When: see ``due``, which weighs what the full
  collections since the last freeze cost (timed by a ``gc.callbacks`` hook: the
  200 sessions of a team dashboard make each run's collection walk them all).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from typed_state import _streamlit
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_state._streamlit import Sessions

_LOGGER = logging.getLogger("typed_state")

CHECK_EVERY = 1.0
"""Seconds between two looks, on the loop, at whether a refreeze is due (a look costs
two O(1) calls: ``sys.getallocatedblocks()`` and the live sessions' ids)."""

_POLL = 0.1
"""Seconds between two looks at whether the server is quiet, once a freeze is due."""

MIN_SPACING = 10.0
"""Seconds at least between two refreezes: each costs one full collection."""

CLOSED = 10
"""Sessions closed since the last freeze that make a refreeze due: what they held
in reference cycles, if they were alive then, is freed only by one."""

GROWTH = 0.5
"""Growth of the heap since the last freeze, as a share of it then, that makes a
refreeze due: what was made since and is still alive, every run walks again.  The
heap is counted in pymalloc blocks (``sys.getallocatedblocks()``, O(1)), a stand-in for
the objects that ``len(gc.get_objects())`` would count at O(n)."""

FULL_BUDGET_MS = 4.0
"""Mean time of the full collections since the last freeze (Streamlit runs one at the
end of every script run) that makes a refreeze due: each walks what the server built
since the freeze and still holds, which a refreeze takes out of every later walk.
Right after a freeze a full collection of a Streamlit + Pydantic server takes 1-2 ms."""

FULL_SAMPLES = 5
"""Full collections timed before their cost decides: one slow collection is no trend."""

LONGEST_COST_SPACING = 16 * MIN_SPACING
"""The most seconds between two refreezes for cost, once refreezes no longer bring the
cost under the budget (what the collections walk is not long-lived)."""

MAX_AGE = 1800.0
"""Seconds after which a refreeze is due anyway (garbage that closed sessions do
not account for), if anything was made since."""


@dataclass
class HeapState:
    """What ``due`` decides on."""

    since: float
    """Seconds since the last freeze."""
    then: int
    """Allocated blocks just after the last freeze."""
    now: int
    """Allocated blocks now."""
    closed: int
    """Sessions closed since the last freeze."""
    full_ms: float = 0.0
    """Mean time of the full collections since the last freeze, in ms."""
    full_count: int = 0
    """Full collections timed since the last freeze (our own not counted)."""
    cost_spacing: float = MIN_SPACING
    """Seconds at least between two refreezes for cost (longer while they do not help)."""


def costly(heap: HeapState) -> bool:
    """Whether the full collections since the last freeze cost more than the budget."""
    return heap.full_count >= FULL_SAMPLES and heap.full_ms >= FULL_BUDGET_MS


def due(heap: HeapState) -> bool:
    """Whether a refreeze is worth its full collection now.

    Measured (docs, Performance): closed sessions are what keeps memory
    (each may hold megabytes in cycles), the young heap is what each run walks,
    and what the full collections cost says how much that walk weighs.
    """
    if heap.since < MIN_SPACING:
        return False
    return (
        heap.closed >= CLOSED
        or heap.now >= (1 + GROWTH) * max(heap.then, 1)
        or (heap.since >= MAX_AGE and heap.now > heap.then)
        or (costly(heap) and heap.since >= heap.cost_spacing)
    )


@dataclass
class Stats:
    """What the freezer did (the inspector, tests and benchmarks read it)."""

    freezes: int = 0
    """Freezes done, the first one included."""
    frozen: int = 0
    """Objects in the frozen generation after the last freeze."""
    last_ms: float = 0.0
    """How long the last (re)freeze held the event loop, in ms."""
    longest_ms: float = 0.0
    """The longest a (re)freeze held the event loop, in ms."""
    freed: list[int] = field(default_factory=list)
    """Per freeze, the unreachable objects its collection found."""
    blocks: int = 0
    """Allocated blocks just after the last freeze."""
    full_ms: float = 0.0
    """Mean time of the full collections since the last freeze, in ms (0: none yet)."""
    full_count: int = 0
    """Full collections timed since the last freeze."""
    before_ms: list[float] = field(default_factory=list)
    """Per refreeze, the mean time of the full collections before it, in ms."""


class Freezer:
    """Freezes the heap once the server is quiet, and refreezes it when ``due``.

    ``sessions`` gives the server's sessions (None without a server) and
    ``clock`` the time in seconds: seams for tests.
    """

    def __init__(
        self,
        *,
        sessions: Callable[[], Sessions | None] = _streamlit.sessions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._get_sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._started = False
        self._frozen_at: float | None = None
        self._alive_then: set[str] = set()
        self.stats = Stats()
        self._freezing = False
        self._gc_started = 0.0
        self._full_total = 0.0
        self._full_count = 0
        self._cost_spacing = MIN_SPACING
        self._for_cost = False
        """Whether the last refreeze was made for the collections' cost."""

    def start(self) -> None:
        """Called on every ``get()``: the first one in a script run of a server
        schedules the freeze (a process that is no server freezes only if asked)."""
        if self._started:
            return
        wanted = settings().gc_freeze
        if wanted is False:
            self._started = True
            return
        if _streamlit.in_app_test() or not _streamlit.in_server():
            if self._claim() and wanted:  # asked for outside a server: once, now
                self.freeze()
            return
        sessions = self._get_sessions()
        if sessions is None or _streamlit.current_run() is None:
            return  # a thread of the app, or a server starting: wait for a script run
        if self._claim():
            sessions.call_later(_POLL, self._check)

    def _claim(self) -> bool:
        """Whether this call is the one that starts (threads may race to it)."""
        with self._lock:
            if self._started:
                return False
            self._started = True
            return True

    def _check(self) -> None:
        """On the loop: freeze when quiet if it is due, and look again later."""
        sessions = self._get_sessions()
        if sessions is None:
            return  # the server is shutting down
        if self._frozen_at is not None and not due(self.heap(sessions)):
            sessions.call_later(CHECK_EVERY, self._check)
            return
        if not sessions.quiet():
            # Never in the middle of runs: their collection would wait on ours.
            sessions.call_later(_POLL, self._check)
            return
        first = self._frozen_at is None
        self.freeze(sessions)
        if first:
            _LOGGER.info(
                "typed_state: froze %d objects of the server's heap out of Streamlit's "
                "per-run garbage collections (refrozen as sessions close or the heap "
                "grows); TYPED_STATE_GC_FREEZE=0 or [typed_state] gc_freeze = false "
                "turns this off",
                self.stats.frozen,
            )
        sessions.call_later(CHECK_EVERY, self._check)

    def heap(self, sessions: Sessions | None = None) -> HeapState:
        """The heap and sessions now, against the last freeze."""
        closed = 0
        if sessions is not None:
            closed = len(self._alive_then - sessions.alive())
        since = self._clock() - (self._frozen_at if self._frozen_at is not None else 0.0)
        count = self._full_count
        return HeapState(
            since=since,
            then=self.stats.blocks,
            now=sys.getallocatedblocks(),
            closed=closed,
            full_ms=1000 * self._full_total / count if count else 0.0,
            full_count=count,
            cost_spacing=self._cost_spacing,
        )

    def _timed(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` hook: time every full collection but our own."""
        if info["generation"] != 2 or self._freezing:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self._full_total += time.perf_counter() - self._gc_started
            self._full_count += 1
            self._gc_started = 0.0
            self.stats.full_ms = 1000 * self._full_total / self._full_count
            self.stats.full_count = self._full_count

    def close(self) -> None:
        """Stop timing the collections (tests)."""
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._timed)

    def freeze(self, sessions: Sessions | None = None) -> None:
        """Unfreeze, collect everything, freeze what is alive (the first freeze too)."""
        heap = self.heap(sessions)
        for_cost = self._frozen_at is not None and costly(heap) and not _due_otherwise(heap)
        if for_cost and self._for_cost:
            # The last refreeze for cost did not bring it under the budget: what the
            # collections walk is not long-lived; look less often.
            self._cost_spacing = min(2 * self._cost_spacing, LONGEST_COST_SPACING)
        elif not for_cost:
            self._cost_spacing = MIN_SPACING
        self._for_cost = for_cost
        if self._frozen_at is not None and heap.full_count:
            self.stats.before_ms = [*self.stats.before_ms[-99:], heap.full_ms]
        started = time.perf_counter()
        self._freezing = True
        try:
            gc.unfreeze()
            freed = gc.collect()
            gc.freeze()
        finally:
            self._freezing = False
        took = (time.perf_counter() - started) * 1000
        self._full_total, self._full_count = 0.0, 0
        if self._timed not in gc.callbacks:
            gc.callbacks.append(self._timed)
        stats = self.stats
        stats.full_ms, stats.full_count = 0.0, 0
        stats.freezes += 1
        stats.frozen = gc.get_freeze_count()
        stats.last_ms = took
        stats.longest_ms = max(stats.longest_ms, took)
        stats.freed = [*stats.freed[-99:], freed]
        stats.blocks = sys.getallocatedblocks()
        self._frozen_at = self._clock()
        self._alive_then = sessions.alive() if sessions is not None else set()
        _LOGGER.debug(
            "typed_state: froze %d objects (%d freed) in %.1f ms", stats.frozen, freed, took
        )


_FREEZER = Freezer()


def freezer() -> Freezer:
    """The process's freezer."""
    return _FREEZER


def maybe_freeze() -> None:
    """Called on every ``get()``: the first one in a script run schedules the freeze."""
    _FREEZER.start()


def reset() -> None:
    """Forget the freezes (tests); frozen objects stay frozen."""
    global _FREEZER
    _FREEZER.close()
    _FREEZER = Freezer()


def _due_otherwise(heap: HeapState) -> bool:
    """Whether a refreeze is due for another reason than the collections' cost."""
    return due(HeapState(heap.since, heap.then, heap.now, heap.closed))
