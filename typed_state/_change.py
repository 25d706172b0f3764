"""Change detection and the ``no_rerun`` switch."""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

_IMMUTABLE = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    frozenset,
    tuple,
    decimal.Decimal,
    fractions.Fraction,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    enum.Enum,
    pathlib.PurePath,
)

_suppressed: ContextVar[int] = ContextVar("typed_state_no_rerun", default=0)


def reassigned_in_place(value: Any, stored: Any) -> bool:
    """True when ``value`` is the stored object itself, and it could have been
    mutated in place (``state.items = state.items`` after an append)."""
    return value is stored and not isinstance(value, _IMMUTABLE)


def differs(old: Any, new: Any) -> bool:
    """Whether ``new`` is a change from ``old``, by equality.

    A comparison that raises, or that answers with anything but a plain bool
    (numpy arrays, DataFrames), counts as a change: re-running a reader once
    too often is cheap, missing a change is not.
    """
    if old is new:
        return False
    try:
        equal = old == new
    except Exception:
        return True
    if type(equal) is bool:
        return not equal
    return True


class _NoRerun:
    """Context manager: writes inside it store and validate but re-run nobody.

    Use it for writes that readers need not see at once (a progress counter
    bumped thousands of times, say); :meth:`SharedState.notify` pushes later::

        with no_rerun:
            state.count = 0
    """

    __slots__ = ()

    def __enter__(self) -> None:
        _suppressed.set(_suppressed.get() + 1)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _suppressed.set(_suppressed.get() - 1)

    def __repr__(self) -> str:
        return "typed_state.no_rerun"

    @property
    def active(self) -> bool:
        """True while the calling thread (or task) is inside ``with no_rerun``."""
        return _suppressed.get() > 0


no_rerun = _NoRerun()
