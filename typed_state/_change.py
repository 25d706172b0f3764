"""Change detection and the ``no_rerun`` switch."""

from __future__ import annotations

import math
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from typed_state._loaded import loaded
from typed_state._log import Log
from typed_state._readonly import is_frozen

if TYPE_CHECKING:
    from types import TracebackType

_suppressed: ContextVar[int] = ContextVar("typed_state_no_rerun", default=0)


def reassigned_in_place(value: Any, stored: Any) -> bool:
    """True when ``value`` is the stored object itself, and it could have been
    changed in place: only a type with no read-only form can be (a DataFrame
    edited and assigned back); stored values are otherwise frozen."""
    return value is stored and not is_frozen(value)


def differs(old: Any, new: Any) -> bool:
    """Whether ``new`` is a change from ``old``, by equality.

    NaN equals NaN here (a float, or inside lists, tuples, dicts, sets and
    models), so that writing an equal value that holds NaN re-runs nobody;
    numpy arrays compare by value (``array_equal``, NaN equal to NaN).  Any
    other comparison that raises, or answers with anything but a plain bool
    (a DataFrame), counts as a change: re-running a reader once too often is
    cheap, missing a change is not.
    """
    if old is new:
        return False
    try:
        equal = old == new
    except Exception:
        return not _arrays_equal(old, new)
    if type(equal) is bool:
        # Unequal is rare for an unchanged value: only then look for NaNs, and
        # only in values that can hold one.
        return not equal and (type(new) in _NO_NAN or not _equal_with_nan(old, new))
    return not _arrays_equal(old, new)


_NO_NAN = frozenset({int, str, bool, bytes, type(None)})
"""Exact types whose values never hold a NaN (the common field values)."""


def _equal_with_nan(a: Any, b: Any) -> bool:
    """``a == b``, except that NaN equals NaN (stops at the first real difference)."""
    if a is b:
        return True
    if isinstance(a, Log):
        a = list(a)
    if isinstance(b, Log):
        b = list(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return (
            (type(a) is type(b) or (isinstance(a, list) and isinstance(b, list)))
            and len(a) == len(b)
            and all(x == y or _equal_with_nan(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(a[k] == b[k] or _equal_with_nan(a[k], b[k]) for k in a)
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        return _same_model_class(a, b) and _equal_with_nan(a.__dict__, b.__dict__)
    return _arrays_equal(a, b)


def _same_model_class(a: BaseModel, b: BaseModel) -> bool:
    """Whether two models are of one class, or of two definitions of it.

    Pydantic's ``==`` wants the very same class, but a page script that
    declares its models defines them anew on every run: a value built by this
    run's ``Row`` and an equal one stored by an earlier run's is no change.
    A frozen model's class is compared as its plain class.
    """
    cls_a, cls_b = _model_class(a), _model_class(b)
    return cls_a is cls_b or (
        cls_a.__qualname__ == cls_b.__qualname__ and cls_a.__module__ == cls_b.__module__
    )


def _model_class(model: BaseModel) -> type:
    """The class Pydantic's ``==`` compares (a frozen model's is its plain class)."""
    return model.__pydantic_generic_metadata__["origin"] or type(model)


def _arrays_equal(a: Any, b: Any) -> bool:
    ndarray = loaded("numpy", "ndarray")
    if ndarray is None or not (isinstance(a, ndarray) and isinstance(b, ndarray)):
        return False
    numpy = sys.modules["numpy"]
    try:
        return bool(numpy.array_equal(a, b, equal_nan=True))
    except TypeError:  # equal_nan on a dtype with no NaN (strings, objects)
        return bool(numpy.array_equal(a, b))


class _NoRerun:
    """The type of ``no_rerun`` (documented there)."""

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
"""A context manager: writes inside it store and validate but re-run nobody.

It holds for the calling thread (or asyncio task) only, and nests.  Use it for
writes that readers need not see at once (a progress counter bumped thousands of
times, say), then push once with ``SharedState.notify``.  ``no_rerun.active`` says
whether the caller is inside one.

```python
with no_rerun:
    for row in rows:
        job.done += 1
job.notify(lambda j: j.done)  # now every reader of `done` re-runs once
```
"""
