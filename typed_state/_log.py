"""``Log``: a field that grows at its end, whose ``append()`` never copies it.

A ``list`` field's ``append()`` builds a new read-only list, because a reader may hold
the old one and it must never change behind its reader.  Copying the old items'
pointers is C-speed, but it is one increment per item: 0.8 ms at 100,000 messages,
17 ms at 1,000,000.  A ``Log`` is a read-only view (where it starts and stops) over a
buffer that only grows.  An ``append()`` adds the new items at the buffer's end and
makes a view one item longer; the views read earlier stop where they stopped, so
they never change.  ``keep_last`` moves the start; once the items before it are
more than those after, the live ones move to a new buffer, so that a bounded log
stays bounded (each item is moved at most once per doubling: constant on average).

Only the newest view extends its buffer in place; any other (an older value written
back) extends a copy.  The check and the extension hold the buffer's own lock, since
a process's own append and a store's message of another process's may race.
"""

from __future__ import annotations

import importlib
import operator
import threading
import typing
from collections.abc import Iterable, Iterator, Sequence
from copy import deepcopy
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from pydantic import BaseModel
from pydantic_core import core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

    from typed_state._readonly import Origin

T = TypeVar("T")
"""Invariant, as a list's: a covariant ``Log[Message]`` would pass for a
``Log[Message | str]``, and ``append(lambda c: c.log, "hi")`` would type-check."""

_COMPACT_FROM = 1024
"""Dead items at a buffer's start, at least, before a bounded log moves to a new buffer."""


class _Buffer:
    """The items of one or more logs: only ever extended at its end."""

    __slots__ = ("items", "lock")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.lock = threading.Lock()


class Log(Sequence[T]):
    """A read-only sequence for a field that grows by `append()`, at a cost that does
    not grow with it.

    Declare the field as `Log[Item]`; read it like a list (`len`, indexes, slices,
    iteration); add to it with the state's `append()`. Where a `list` field's
    `append()` copies the list (17 ms at 1,000,000 items), a `Log`'s adds only the
    new items, and `keep_last` bounds it in the same step:

    ```python
    from pydantic import BaseModel
    from typed_state import Log, SharedState

    class Message(BaseModel):
        author: str
        text: str

    class Chat(SharedState):
        messages: Log[Message] = Log()

    chat = Chat.get()
    chat.append(lambda c: c.messages, Message(author="ann", text="hi"), keep_last=100_000)
    for message in chat.messages[-50:]:   # a slice is a plain list
        print(message.text)
    ```

    A value read earlier never changes: it keeps the items it had. A `Log` equals a
    `Log` or a `list` with equal items; it is stored (and sent to JSON) as a list, and a
    list assigned to the field becomes a `Log`. `list(log)` gives a plain list (for
    `json.dumps`, or to edit), and `mutate()` hands out a list, stored back as a `Log`.
    Like a tuple, a `Log` is immutable: `copy.copy` gives it back, `copy.deepcopy` a
    `Log` of plain copies of its items.
    """

    __slots__ = ("_buffer", "_start", "_stop", "_ts_origin")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._buffer = _Buffer(list(items))
        self._start = 0
        self._stop = len(self._buffer.items)
        # A value of no field yet: freeze() makes its items read-only, in a view of its own.
        self._ts_origin: Origin | None = None

    @classmethod
    def _view(cls, buffer: _Buffer, start: int, stop: int, origin: Origin | None) -> Log[Any]:
        log: Log[Any] = cls.__new__(cls)
        log._buffer = buffer
        log._start = start
        log._stop = stop
        log._ts_origin = origin
        return log

    # -- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            span = range(self._start, self._stop)[index]
            if span.step == 1:
                return self._buffer.items[span.start : span.stop]
            return list(map(self._buffer.items.__getitem__, span))
        i = operator.index(index)
        size = self._stop - self._start
        if i < 0:
            i += size
        if not 0 <= i < size:
            raise IndexError("Log index out of range")
        item: T = self._buffer.items[self._start + i]
        return item

    def __iter__(self) -> Iterator[T]:
        # Only this view's items, even while the buffer grows (C-speed, no copy).
        return map(self._buffer.items.__getitem__, range(self._start, self._stop))

    def __reversed__(self) -> Iterator[T]:
        return map(self._buffer.items.__getitem__, range(self._stop - 1, self._start - 1, -1))

    def __contains__(self, value: object) -> bool:
        return any(item is value or item == value for item in self)

    def _items(self) -> list[Any]:
        return self._buffer.items[self._start : self._stop]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Log):
            if other._buffer is self._buffer and (other._start, other._stop) == (
                self._start,
                self._stop,
            ):
                return True
            return len(other) == len(self) and self._items() == other._items()
        if isinstance(other, list):
            return len(other) == len(self) and self._items() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __repr__(self) -> str:
        return f"Log({self._items()!r})"

    def to_pandas(self) -> Any:  # a pandas DataFrame (pandas ships no type hints)
        """The items as a pandas `DataFrame`, a model's fields as columns.

        Streamlit calls it to draw a `Log`: `st.dataframe(state.events)`, `st.table`
        and the charts show what they show for a list.
        """
        # Streamlit's own dependency, so there wherever Streamlit is; untyped.
        pd: Any = importlib.import_module("pandas")

        items = self._items()
        if items and all(isinstance(item, BaseModel) for item in items):
            return pd.DataFrame([item.model_dump() for item in items])
        return pd.DataFrame(items)

    # -- copies: a Log is immutable, as a tuple is --------------------------------------

    def __copy__(self) -> Log[T]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Log[T]:
        # Plain items (a frozen model's deep copy is a plain one), of no field yet.
        return Log(deepcopy(item, memo) for item in self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Log, (self._items(),))

    def _refuse(self, action: str) -> NoReturn:
        if self._ts_origin is not None:
            self._ts_origin.refuse(action)
        raise TypeError(f"a Log is read-only: it cannot {action} it; make a new one")

    # -- as a field's value ----------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        args = typing.get_args(source)
        item: Any = args[0] if args else Any
        items_schema = handler.generate_schema(list[item])
        # In: a list (or any iterable a list field takes) or a Log, validated as its
        # items. Out: a list, so that JSON and model_dump() see what a list field gives.
        return core_schema.no_info_before_validator_function(
            _as_items,
            core_schema.no_info_after_validator_function(Log, items_schema),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _as_items, return_schema=items_schema
            ),
        )


def _refusing(action: str) -> Any:
    def refuse(self: Log[Any], *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse(action)

    return refuse


# Declared to neither the type checkers nor the docs (a Log has no such methods): at
# run time they say what to use instead, as a frozen list's do.
for _name, _action in {
    "append": "append to",
    "extend": "extend",
    "__setitem__": "assign an item of",
    "__delitem__": "delete an item of",
}.items():
    setattr(Log, _name, _refusing(_action))


def _as_items(value: Any) -> Any:
    # A store serializes some items alone (a list) with the field's serializer, too.
    return value._items() if isinstance(value, Log) else value


# -- used by the library ------------------------------------------------------------------


def frozen_log(log: Log[Any], origin: Origin, freeze: Any) -> Log[Any]:
    """``log`` as a value of the field of ``origin``: itself if it is one already, else a
    view of its items frozen for that field (``freeze(item, origin)``)."""
    if log._ts_origin is origin:
        return log
    return log_of([freeze(item, origin) for item in log], origin)


def log_of(items: list[Any], origin: Origin) -> Log[Any]:
    """A Log of the field of ``origin`` holding ``items``, which are frozen already (not
    walked again)."""
    return Log._view(_Buffer(items), 0, len(items), origin)


def is_frozen_log(value: Any) -> bool:
    """Whether ``value`` is a Log of some field (its items are read-only)."""
    return isinstance(value, Log) and value._ts_origin is not None


def appended(old: Log[Any], added: list[Any], keep_last: int | None) -> Log[Any]:
    """``old`` and then ``added`` (frozen already), only the last ``keep_last`` kept:
    the new items are added to ``old``'s buffer where ``old`` is its newest view."""
    buffer = old._buffer
    with buffer.lock:
        start, stop = old._start, old._stop + len(added)
        if keep_last is not None:
            start = max(start, stop - keep_last)
        if old._stop == len(buffer.items) and not (start >= _COMPACT_FROM and start * 2 > stop):
            buffer.items.extend(added)
            return Log._view(buffer, start, stop, old._ts_origin)
    # An older view, or a bounded log whose dead items outnumber the live ones: the
    # live items move to a buffer of their own.
    items = buffer.items[old._start : old._stop] + added
    if keep_last is not None and len(items) > keep_last:
        del items[: len(items) - keep_last]
    return Log._view(_Buffer(items), 0, len(items), old._ts_origin)
