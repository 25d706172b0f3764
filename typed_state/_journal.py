"""The write log: the last writes of this process, for the inspector page.

Keeping it must cost a write next to nothing, and keep little alive: an entry is
a tuple appended to a bounded deque (``SIZE`` entries).  A small value (a
number, a short string, a short list or dict of such) is kept as it is (read-only
snapshots, never changed in place) and shown when somebody looks; anything else
is kept as what the log shows of it, its type and size (``Summary``), so that
100 writes of a 20 MB string do not keep 2 GB alive.  Deciding costs O(1) for
anything but a short container, whose items are looked at.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

from typed_state._log import Log

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
    """``SESSION``, ``THREAD`` or ``ELSEWHERE``."""
    session: str | None
    """The writing session's id, for a session's write."""
    before: Any
    after: Any


_LOG: deque[Write] = deque(maxlen=SIZE)

_SCALARS = frozenset({int, float, bool, type(None), complex})
_TEXT = 200
"""Longest string (or bytes) the log keeps as it is."""
_ITEMS = 20
"""Most items of a list, tuple, set or dict the log keeps as they are (scalars only)."""


class Summary(NamedTuple):
    """What the log keeps of a value too big to keep alive: its type and size."""

    kind: str
    size: int | None

    def __repr__(self) -> str:
        if self.size is None:
            return f"<{self.kind}>"
        unit = "character" if self.kind == "str" else "byte" if self.kind == "bytes" else "item"
        return f"<{self.kind} of {self.size:,} {unit}{'' if self.size == 1 else 's'}>"


def _kept(value: Any) -> Any:
    """``value`` if it is small enough to keep alive, else its ``Summary``."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, str | bytes):
        return value if len(value) <= _TEXT else Summary(type(value).__name__, len(value))
    if isinstance(value, Log):  # it may be long: its length, never its items
        return Summary("Log", len(value))
    if isinstance(value, list | tuple | set | frozenset | dict):
        items = value.values() if isinstance(value, dict) else value
        if len(value) <= _ITEMS and all(
            type(item) in _SCALARS or (type(item) is str and len(item) <= _TEXT) for item in items
        ):
            return value
        return Summary(_base_name(value), len(value))
    return value if value is UNKNOWN else Summary(kind.__name__.removeprefix("Frozen"), None)


def _base_name(value: Any) -> str:
    for base in (dict, list, tuple, set, frozenset):
        if isinstance(value, base):
            return base.__name__
    return type(value).__name__


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
        _kept(before),
        _kept(after),
    )
    _LOG.append(entry)
    return entry


def record_elsewhere(title: str, namespace: str, field: str, after: Any) -> Write:
    """Note a write another process made (heard through the store)."""
    entry = Write(time.time(), title, namespace, field, ELSEWHERE, None, UNKNOWN, _kept(after))
    _LOG.append(entry)
    return entry


def writes() -> list[Write]:
    """The writes kept, newest first."""
    return list(reversed(_LOG))


def reset() -> None:
    """Forget every write (tests)."""
    _LOG.clear()
