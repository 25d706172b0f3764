"""The wall clock that members' last use is measured with.

Wall time, not monotonic: under Redis several processes (on several hosts)
compare the times they wrote.  Tests swap it with ``use_clock`` and move
time forward themselves, as redis-py's lock tests do.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

_clock: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch, from the clock in use."""
    return _clock()


def use_clock(clock: Callable[[], float] | None) -> Callable[[], float]:
    """Make ``clock`` the clock in use (None: the real one); return the previous one."""
    global _clock
    previous, _clock = _clock, clock or time.time
    return previous
