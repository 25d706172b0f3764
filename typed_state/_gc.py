"""The opt-in ``gc_freeze``: take the start-up heap out of Streamlit's per-run collections.

Streamlit ends every script run with ``gc.collect(2)`` (``runner.postScriptGC``),
which walks every tracked object of the process with the GIL held: with the
~80k objects of a Streamlit + Pydantic server that is tens of milliseconds per
run, and it dominates the time a push takes to reach many sessions.
``gc.freeze()`` moves every object alive at that moment to a permanent
generation that collections skip.

Opt-in (``TYPED_STATE_GC_FREEZE=1`` or ``[typed_state] gc_freeze = true``),
because it changes the whole process's garbage collection: objects alive at
freeze time that later die in reference cycles are never freed.  typed_state
freezes once, on the server's event loop, after the first script run that
uses it has finished, so the heap frozen is the server's and the app's
modules, not a run's temporaries.
"""

from __future__ import annotations

import gc
import logging
import threading

from typed_state import _streamlit
from typed_state._config import settings

_LOGGER = logging.getLogger("typed_state")
_POLL = 0.1
"""How often the session that triggered the freeze is checked for having settled (s)."""

_started = threading.Event()
frozen = threading.Event()
"""Set once the heap was frozen (tests and the inspector read it)."""


def maybe_freeze() -> None:
    """Called on every ``get()``: the first one in a script run schedules the freeze."""
    if _started.is_set():
        return
    if not settings().gc_freeze:
        _started.set()
        return
    run = _streamlit.current_run()
    sessions = _streamlit.sessions()
    if run is None or sessions is None:
        return  # a thread of the app, or no server (AppTest): wait for a script run
    _started.set()
    session_id = run.session_id

    def when_settled() -> None:
        view = sessions.get(session_id)
        if view is not None and not view.settled:
            sessions.call_later(_POLL, when_settled)
            return
        gc.collect()
        gc.freeze()
        frozen.set()
        _LOGGER.info("typed_state: froze %d objects out of the collections", gc.get_freeze_count())

    sessions.call_later(_POLL, when_settled)


def reset() -> None:
    """Forget that the freeze happened (tests); frozen objects stay frozen."""
    _started.clear()
    frozen.clear()
