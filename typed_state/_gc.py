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
  leave the per-run walk.  When: see :func:`due`.
"""

from __future__ import annotations

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

MAX_AGE = 1800.0
"""Seconds after which a refreeze is due anyway (garbage that closed sessions do
not account for), if anything was made since."""


@dataclass
class HeapState:
    """What :func:`due` decides on."""

    since: float
    """Seconds since the last freeze."""
    then: int
    """Allocated blocks just after the last freeze."""
    now: int
    """Allocated blocks now."""
    closed: int
    """Sessions closed since the last freeze."""


def due(heap: HeapState) -> bool:
    """Whether a refreeze is worth its full collection now.

    Measured (README, Performance): closed sessions are what keeps memory
    (each may hold megabytes in cycles), the young heap is what each run walks.
    """
    if heap.since < MIN_SPACING:
        return False
    return (
        heap.closed >= CLOSED
        or heap.now >= (1 + GROWTH) * max(heap.then, 1)
        or (heap.since >= MAX_AGE and heap.now > heap.then)
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


class Freezer:
    """Freezes the heap once the server is quiet, and refreezes it when :func:`due`.

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
        return HeapState(
            since=since, then=self.stats.blocks, now=sys.getallocatedblocks(), closed=closed
        )

    def freeze(self, sessions: Sessions | None = None) -> None:
        """Unfreeze, collect everything, freeze what is alive (the first freeze too)."""
        started = time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        took = (time.perf_counter() - started) * 1000
        stats = self.stats
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
    _FREEZER = Freezer()
