"""The write log: the last writes of this process, for the inspector page.

Keeping it must cost a write next to nothing: an entry is a tuple appended to
a bounded deque, holding the old and new values themselves (read-only
snapshots, never changed in place), and the short "before -> after" text is
made only when somebody looks.  At most :data:`SIZE` entries are kept, so at
most that many replaced values stay alive because of it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from typed_state._streamlit import Run

SIZE = 100
"""How many writes the log keeps."""

UNKNOWN = object()
"""The value before a write this process did not see (another process's)."""

SESSION, THREAD, ELSEWHERE = "a session", "a thread of the app", "another process"


class Write(NamedTuple):
    """One stored change of one field."""

    at: float
    """Wall time (``time.time()``)."""
    title: str
    """The state, as messages name it: ``Chat`` or ``Chat['r1']``."""
    namespace: str
    field: str
    writer: str
    """:data:`SESSION`, :data:`THREAD` or :data:`ELSEWHERE`."""
    session: str | None
    """The writing session's id, for a session's write."""
    before: Any
    after: Any


_LOG: deque[Write] = deque(maxlen=SIZE)


def record(
    title: str, namespace: str, field: str, run: Run | None, before: Any, after: Any
) -> Write:
    """Note a write made in this process (``run``: the script run that made it, if any)."""
    entry = Write(
        time.time(),
        title,
        namespace,
        field,
        THREAD if run is None else SESSION,
        None if run is None else run.session_id,
        before,
        after,
    )
    _LOG.append(entry)
    return entry


def record_elsewhere(title: str, namespace: str, field: str, after: Any) -> Write:
    """Note a write another process made (heard through the store)."""
    entry = Write(time.time(), title, namespace, field, ELSEWHERE, None, UNKNOWN, after)
    _LOG.append(entry)
    return entry


def writes() -> list[Write]:
    """The writes kept, newest first."""
    return list(reversed(_LOG))


def reset() -> None:
    """Forget every write (tests)."""
    _LOG.clear()
