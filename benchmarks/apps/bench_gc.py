"""The time this server spent in full collections (``gc.collect(2)``), for every library
alike: a ``gc.callbacks`` hook installed once per process."""

import gc
import time

_started = [0.0]
_total = [0.0]


def _timed(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _started[0] = time.perf_counter()
    elif _started[0]:
        _total[0] += time.perf_counter() - _started[0]
        _started[0] = 0.0


def full_ms() -> float:
    """Milliseconds spent in full collections since the first call."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)
    return 1000 * _total[0]
