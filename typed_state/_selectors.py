"""Fields named by selectors: ``lambda c: c.count`` instead of ``"count"``.

Every type checker (pyright, mypy, with or without a plugin) infers ``c`` as the state
itself, so a misspelt field is an error in the editor, and the selector's result type
types the rest of the call (a list's items for ``append``, a dict's keys and values for
``set_item``).  At run time a selector is called once on a recorder that notes which
attributes it reads, and the answer is kept per code object: a page that Streamlit
runs again makes new lambdas of the same code.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_KEPT = 4096
"""Selectors remembered by their code, at most (Streamlit compiles a page anew on edits)."""

_RESOLVED: dict[object, tuple[str, ...]] = {}
_LOCK = threading.Lock()

_WHAT = (
    "a selector reads fields and nothing else: lambda c: c.count, or lambda c: (c.lo, c.hi) "
    "where several fields may be named"
)


class _Read:
    """What a recorder's attribute read gives: the field it names, and nothing to do with it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Recorder:
    __slots__ = ()

    def __getattribute__(self, name: str) -> _Read:
        return _Read(name)


_RECORDER = _Recorder()


def field_names(selector: Callable[[Any], object], *, several: bool) -> tuple[str, ...]:
    """The fields ``selector`` reads (one, or several where ``several``).

    Raises ``TypeError`` for anything but plain field reads (``lambda c: c.n + 1``, a
    method call, an item of a field, another object).
    """
    code = getattr(selector, "__code__", None)
    # A closure may name different fields with the same code (getattr(c, name)).
    cacheable = code is not None and not getattr(selector, "__closure__", None)
    if cacheable:
        known = _RESOLVED.get(code)
        if known is not None:
            return _checked(known, several)
    try:
        result = selector(_RECORDER)
    except Exception as exc:  # an operation on a field read (c.n + 1, c.items[0], c.lock())
        raise TypeError(f"{_WHAT}; {selector!r} does more ({exc})") from None
    reads = result if isinstance(result, tuple) else (result,)
    if not reads or not all(isinstance(read, _Read) for read in reads):
        raise TypeError(f"{_WHAT}; {selector!r} returned {result!r}")
    names = tuple(read.name for read in reads)
    if cacheable:
        with _LOCK:
            if len(_RESOLVED) >= _KEPT:
                _RESOLVED.clear()
            _RESOLVED[code] = names
    return _checked(names, several)


def _checked(names: tuple[str, ...], several: bool) -> tuple[str, ...]:
    if len(names) > 1 and not several:
        raise TypeError(f"{_WHAT}; this one names several fields ({', '.join(names)}), here one")
    return names


def one(field: str | Callable[[Any], object]) -> str:
    """A field given by name or by selector, as its name."""
    if isinstance(field, str):
        return field
    if callable(field):
        return field_names(field, several=False)[0]
    raise TypeError(f"a field is named by a str or a selector (lambda c: c.count), not {field!r}")


def many(fields: tuple[str | Callable[[Any], object], ...]) -> tuple[str, ...]:
    """Fields given by names or selectors (one may name several), as names."""
    names: list[str] = []
    for field in fields:
        if isinstance(field, str):
            names.append(field)
        elif callable(field):
            names.extend(field_names(field, several=True))
        else:
            raise TypeError(
                f"a field is named by a str or a selector (lambda c: c.count), not {field!r}"
            )
    return tuple(names)


def reset() -> None:
    """Forget the selectors resolved (tests)."""
    with _LOCK:
        _RESOLVED.clear()
