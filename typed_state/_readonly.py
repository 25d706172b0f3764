"""Read-only values: frozen once when stored, so that a read costs nothing.

A value read from a shared state is the stored object itself (no copy per
read), so an in-place change would alter what every session sees without
validation, the field's lock or a push.  Every value is therefore frozen when
it is stored: lists, dicts and sets become subclasses of themselves whose
mutating methods raise ``typed_state.ReadOnlyValueError``; a Pydantic
model becomes an instance of a read-only subclass of its own class; a numpy
array becomes a read-only copy.  Freezing recurses, so the rule holds at any
depth, and a value frozen already (read from a state and written back) is
kept as it is: freezing costs what validation already costs, once per write.

The frozen forms stay what the annotation says (``isinstance(v, list)``,
``isinstance(m, Msg)``), compare equal to plain values, and copy (``copy``,
``deepcopy``, ``pickle``, ``model_copy``) to plain mutable values: that is how
``mutate()`` hands out a draft.  Augmented assignment (``+=``, ``|=``) builds a
new plain value instead of changing this one, as it does on a tuple, so
``state.tags |= {"x"}`` is an ordinary validated write.

Counters, OrderedDicts, defaultdicts and deques keep their type, read-only; a
dataclass (stdlib or Pydantic's, with a ``__dict__``) becomes an instance of a
read-only subclass of its class.  Types with no read-only form (a pandas DataFrame,
a slotted dataclass, any other object) are stored as they are: ``is_frozen`` says
False for them, and a re-assignment of the very object stored then counts as a change.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import threading
import uuid
from abc import ABCMeta
from copy import deepcopy
from typing import TYPE_CHECKING, Any, NoReturn, SupportsIndex, cast

from pydantic import BaseModel

from typed_state._errors import ReadOnlyValueError
from typed_state._loaded import loaded
from typed_state._log import Log, appended, frozen_log, is_frozen_log
from typed_state._once import get_or_create

if TYPE_CHECKING:
    from collections.abc import Iterable

ATOMIC: frozenset[type] = frozenset(
    {int, float, complex, str, bytes, bool, type(None), decimal.Decimal, fractions.Fraction}
)
"""Exact types that are immutable all the way down (checked first: the hot path)."""

_IMMUTABLE = (
    *ATOMIC,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    enum.Enum,
    pathlib.PurePath,
    range,
)
"""Types (and their subclasses) whose instances never change in place."""


class Origin:
    """Where a frozen value lives: named in the error that an in-place change raises."""

    __slots__ = ("field", "state")

    def __init__(self, state: str, field: str) -> None:
        self.state = state
        self.field = field

    def refuse(self, action: str) -> NoReturn:
        raise ReadOnlyValueError(self.state, self.field, action)


class Frozen:
    """Marks the frozen forms; each carries the ``Origin`` of its value."""

    __slots__ = ()
    _ts_origin: Origin


def _refusing(action: str) -> Any:
    def refuse(self: Frozen, *args: Any, **kwargs: Any) -> NoReturn:
        self._ts_origin.refuse(action)

    refuse.__name__ = action
    return refuse


class FrozenList(list[Any], Frozen):
    """A ``list`` whose contents cannot change."""

    __slots__ = ("_ts_origin",)

    append = _refusing("append to")
    extend = _refusing("extend")
    insert = _refusing("insert into")
    remove = _refusing("remove from")
    pop = _refusing("pop from")
    clear = _refusing("clear")
    sort = _refusing("sort")
    reverse = _refusing("reverse")
    __setitem__ = _refusing("assign an item of")
    __delitem__ = _refusing("delete an item of")

    def __iadd__(self, other: Iterable[Any]) -> list[Any]:  # type: ignore[override,misc]
        # As on a tuple: a new value, which the assignment then writes (validated).
        return [*self, *other]

    def __imul__(self, times: SupportsIndex) -> list[Any]:  # type: ignore[override]
        return list(self) * times

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))

    def copy(self) -> list[Any]:
        return list(self)


class FrozenDict(dict[Any, Any], Frozen):
    """A ``dict`` whose contents cannot change."""

    __slots__ = ("_ts_origin",)

    __setitem__ = _refusing("assign an item of")
    __delitem__ = _refusing("delete an item of")
    clear = _refusing("clear")
    pop = _refusing("pop from")
    popitem = _refusing("pop from")
    setdefault = _refusing("setdefault on")
    update = _refusing("update")

    def __ior__(self, other: Any) -> dict[Any, Any]:  # type: ignore[override,misc]
        return {**self, **dict(other)}

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {deepcopy(k, memo): deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))

    def copy(self) -> dict[Any, Any]:
        return dict(self)


class FrozenSet(set[Any], Frozen):
    """A ``set`` whose contents cannot change (its items are hashable, hence immutable)."""

    __slots__ = ("_ts_origin",)

    add = _refusing("add to")
    discard = _refusing("discard from")
    remove = _refusing("remove from")
    pop = _refusing("pop from")
    clear = _refusing("clear")
    update = _refusing("update")
    intersection_update = _refusing("update")
    difference_update = _refusing("update")
    symmetric_difference_update = _refusing("update")

    def __ior__(self, other: Any) -> set[Any]:  # type: ignore[override,misc]
        return set(self) | other  # type: ignore[no-any-return]

    def __iand__(self, other: Any) -> set[Any]:  # type: ignore[override,misc]
        return set(self) & other  # type: ignore[no-any-return]

    def __isub__(self, other: Any) -> set[Any]:  # type: ignore[override,misc]
        return set(self) - other  # type: ignore[no-any-return]

    def __ixor__(self, other: Any) -> set[Any]:  # type: ignore[override,misc]
        return set(self) ^ other  # type: ignore[no-any-return]

    def __copy__(self) -> set[Any]:
        return set(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> set[Any]:
        return {deepcopy(item, memo) for item in self}

    def __reduce__(self) -> tuple[Any, ...]:
        return (set, (set(self),))

    def copy(self) -> set[Any]:
        return set(self)


def _once_made(base: type, name: str, action: str) -> Any:
    """``base.<name>`` while the value is being made (it has no origin yet), refused
    after: ``__init__`` called again (``v.__init__(...)``) would refill it, and an
    OrderedDict fills itself through ``__setitem__``."""
    method = getattr(base, name)

    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            origin: Origin = self._ts_origin
        except AttributeError:
            return method(self, *args, **kwargs)
        origin.refuse(action)

    guarded.__name__ = name
    return guarded


FrozenList.__init__ = _once_made(list, "__init__", "re-initialize")  # type: ignore[method-assign]
FrozenDict.__init__ = _once_made(dict, "__init__", "re-initialize")  # type: ignore[method-assign]
FrozenSet.__init__ = _once_made(set, "__init__", "re-initialize")  # type: ignore[method-assign]


class FrozenCounter(FrozenDict, collections.Counter[Any]):
    """A ``Counter`` whose counts cannot change (``most_common()`` and the rest work)."""

    __slots__ = ()

    subtract = _refusing("subtract from")

    def __copy__(self) -> collections.Counter[Any]:
        return collections.Counter(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> collections.Counter[Any]:
        return collections.Counter({deepcopy(k, memo): v for k, v in self.items()})

    def __reduce__(self) -> tuple[Any, ...]:
        return (collections.Counter, (dict(self),))

    def copy(self) -> collections.Counter[Any]:  # type: ignore[override]
        return collections.Counter(self)

    def __ior__(self, other: Any) -> collections.Counter[Any]:  # type: ignore[override,misc]
        return collections.Counter(self) | collections.Counter(other)


_DICT_MUTATORS = {
    "__setitem__": "assign an item of",
    "__delitem__": "delete an item of",
    "clear": "clear",
    "pop": "pop from",
    "popitem": "pop from",
    "setdefault": "setdefault on",
    "update": "update",
}


class FrozenOrderedDict(collections.OrderedDict[Any, Any], Frozen):
    """An ``OrderedDict`` whose contents and order cannot change."""

    __slots__ = ("_ts_origin",)

    move_to_end = _refusing("move an item of")

    def __copy__(self) -> collections.OrderedDict[Any, Any]:
        return collections.OrderedDict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> collections.OrderedDict[Any, Any]:
        return collections.OrderedDict(
            (deepcopy(k, memo), deepcopy(v, memo)) for k, v in self.items()
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (collections.OrderedDict, (list(self.items()),))

    def copy(self) -> collections.OrderedDict[Any, Any]:  # type: ignore[override]
        return collections.OrderedDict(self)


class FrozenDefaultDict(collections.defaultdict[Any, Any], Frozen):
    """A ``defaultdict`` that cannot change: a missing key gives the default, unstored."""

    __slots__ = ("_ts_origin",)

    def __missing__(self, key: Any) -> Any:
        if self.default_factory is None:
            raise KeyError(key)
        return self.default_factory()

    def __copy__(self) -> collections.defaultdict[Any, Any]:  # type: ignore[override]
        return collections.defaultdict(self.default_factory, self)

    def __deepcopy__(self, memo: dict[int, Any]) -> collections.defaultdict[Any, Any]:
        return collections.defaultdict(
            self.default_factory, {deepcopy(k, memo): deepcopy(v, memo) for k, v in self.items()}
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (collections.defaultdict, (self.default_factory, dict(self)))

    def copy(self) -> collections.defaultdict[Any, Any]:  # type: ignore[override]
        return collections.defaultdict(self.default_factory, self)


for _cls, _base in (
    (FrozenOrderedDict, collections.OrderedDict),
    (FrozenDefaultDict, collections.defaultdict),
):
    for _name, _action in {**_DICT_MUTATORS, "__init__": "re-initialize"}.items():
        setattr(_cls, _name, _once_made(_base, _name, _action))
    _cls.__ior__ = lambda self, other: {**self, **dict(other)}  # type: ignore[method-assign,assignment]


class FrozenDeque(collections.deque[Any], Frozen):
    """A ``deque`` whose contents cannot change."""

    __slots__ = ("_ts_origin",)

    append = _refusing("append to")
    appendleft = _refusing("append to")
    extend = _refusing("extend")
    extendleft = _refusing("extend")
    insert = _refusing("insert into")
    pop = _refusing("pop from")
    popleft = _refusing("pop from")
    remove = _refusing("remove from")
    rotate = _refusing("rotate")
    reverse = _refusing("reverse")
    clear = _refusing("clear")
    __setitem__ = _refusing("assign an item of")
    __delitem__ = _refusing("delete an item of")
    __init__ = _once_made(collections.deque, "__init__", "re-initialize")

    def __iadd__(self, other: Iterable[Any]) -> collections.deque[Any]:  # type: ignore[override]
        return collections.deque([*self, *other], self.maxlen)

    def __copy__(self) -> collections.deque[Any]:  # type: ignore[override]
        return collections.deque(self, self.maxlen)

    def __deepcopy__(self, memo: dict[int, Any]) -> collections.deque[Any]:
        return collections.deque((deepcopy(v, memo) for v in self), self.maxlen)

    def __reduce__(self) -> tuple[Any, ...]:
        return (collections.deque, (list(self), self.maxlen))

    def copy(self) -> collections.deque[Any]:  # type: ignore[override]
        return collections.deque(self, self.maxlen)


def _frozen_mapping(value: dict[Any, Any], origin: Origin) -> Any:
    """The read-only form of a dict, or of a Counter, OrderedDict or defaultdict."""
    items = {k: freeze(v, origin) for k, v in value.items()}
    frozen: Any
    if isinstance(value, collections.Counter):
        frozen = FrozenCounter(items)
    elif isinstance(value, collections.defaultdict):
        frozen = FrozenDefaultDict(value.default_factory, items)
    elif isinstance(value, collections.OrderedDict):
        frozen = FrozenOrderedDict(items)
    else:
        frozen = FrozenDict(items)
    frozen._ts_origin = origin
    return frozen


# -- Pydantic models ----------------------------------------------------------------


class _FrozenModel(Frozen):
    """Mixed into the read-only subclass of each model class (see ``_frozen_class``)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        self._ts_origin.refuse(f"set .{name} of")

    def __delattr__(self, name: str) -> None:
        self._ts_origin.refuse(f"delete .{name} of")

    def __copy__(self) -> BaseModel:
        return _thawed(self, deep=False, memo={})

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> BaseModel:
        return _thawed(self, deep=True, memo={} if memo is None else memo)

    def __reduce__(self) -> tuple[Any, ...]:
        return deepcopy(self).__reduce__()


def _thawed(model: Any, *, deep: bool, memo: dict[int, Any]) -> BaseModel:
    """A plain (mutable) instance of the model's own class with the same values."""
    base: type[BaseModel] = type(model).__bases__[1]
    plain = base.__new__(base)
    values = deepcopy(model.__dict__, memo) if deep else dict(model.__dict__)
    object.__setattr__(plain, "__dict__", values)
    extra = model.__pydantic_extra__
    object.__setattr__(plain, "__pydantic_extra__", deepcopy(extra, memo) if deep else extra)
    object.__setattr__(plain, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    private = model.__pydantic_private__
    object.__setattr__(plain, "__pydantic_private__", deepcopy(private, memo) if deep else private)
    return plain


_FROZEN_CLASSES: dict[type[BaseModel], type[BaseModel]] = {}
_FROZEN_CLASSES_LOCK = threading.Lock()


def _frozen_class(cls: type[BaseModel]) -> type[BaseModel]:
    """The read-only subclass of a model class, made once per class.

    Made with ``ABCMeta.__new__``, skipping Pydantic's own metaclass step: it
    adds no field, so it shares its parent's schema, validator and serializer
    instead of building them again (ABCMeta's step still runs: it keeps the
    parent's ``isinstance`` cache apart from this class's).  Its generic origin
    is the parent, which is what Pydantic's ``==`` compares, so a frozen model
    equals a plain one.
    """
    return get_or_create(_FROZEN_CLASSES, cls, _FROZEN_CLASSES_LOCK, lambda: _make_frozen(cls))


def _make_frozen(cls: type[BaseModel]) -> type[BaseModel]:
    metadata = dict(cls.__pydantic_generic_metadata__)
    metadata["origin"] = metadata.get("origin") or cls
    namespace = {
        "__slots__": ("_ts_origin",),
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__pydantic_generic_metadata__": metadata,
        "__hash__": cls.__hash__,
    }
    frozen: type[BaseModel] = ABCMeta.__new__(
        type(cls), cls.__name__, (_FrozenModel, cls), namespace
    )
    return frozen


# -- dataclasses ---------------------------------------------------------------------

_FROZEN_DATACLASSES: dict[type, type] = {}


def _frozen_dataclass_class(cls: type) -> type:
    """The read-only subclass of a dataclass (stdlib or Pydantic's), made once per class:
    attribute assignment and deletion refused, equal to a plain instance with the same
    fields, copied (``copy``, ``deepcopy``, ``pickle``) to a plain one."""

    def make() -> type:
        def refuse_set(self: Frozen, name: str, value: Any) -> NoReturn:
            self._ts_origin.refuse(f"set .{name} of")

        def refuse_delete(self: Frozen, name: str) -> NoReturn:
            self._ts_origin.refuse(f"delete .{name} of")

        def equal(self: Any, other: object) -> Any:  # a bool, or NotImplemented
            if not isinstance(other, cls):
                return NotImplemented
            return all(
                bool(getattr(self, f.name) == getattr(other, f.name))
                for f in dataclasses.fields(cls)
                if f.compare
            )

        def plain(self: Any, memo: dict[int, Any] | None = None) -> Any:
            # As for models: a copy is plain outside, holding the same (frozen)
            # values; a deep copy is plain all the way down.
            instance: Any = object.__new__(cls)
            values = {k: v for k, v in self.__dict__.items() if k != "_ts_origin"}
            instance.__dict__.update(values if memo is None else deepcopy(values, memo))
            return instance

        def reduce(self: Any) -> tuple[Any, ...]:
            return (copy_plain, (plain(self, {}),))

        namespace = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__setattr__": refuse_set,
            "__delattr__": refuse_delete,
            "__eq__": equal,
            "__hash__": cls.__hash__,
            "__copy__": plain,
            "__deepcopy__": plain,
            "__reduce__": reduce,
        }
        return type(cls.__name__, (cls, Frozen), namespace)

    return get_or_create(_FROZEN_DATACLASSES, cls, _FROZEN_CLASSES_LOCK, make)


def copy_plain(value: Any) -> Any:
    """Unpickles a frozen dataclass as the plain instance it was reduced to."""
    return value


def _freeze_dataclass(value: Any, origin: Origin) -> Any:
    frozen_cls = _frozen_dataclass_class(type(value))
    instance: Any = object.__new__(frozen_cls)
    values = {k: freeze(v, origin) for k, v in vars(value).items()}
    object.__setattr__(instance, "__dict__", {**values, "_ts_origin": origin})
    return instance


# -- freezing -----------------------------------------------------------------------


def is_frozen(value: Any) -> bool:
    """Whether ``value`` can never change in place (frozen, or immutable by type)."""
    if type(value) in ATOMIC or isinstance(value, (Frozen, *_IMMUTABLE)):
        return True
    if isinstance(value, Log):
        return is_frozen_log(value)
    if isinstance(value, tuple | frozenset):
        return all(is_frozen(v) for v in value)
    return _is_readonly_array(value)


def freeze(value: Any, origin: Origin) -> Any:
    """``value`` in its read-only form (``value`` itself when it has nothing to freeze)."""
    kind = type(value)
    if kind in ATOMIC:
        return value
    if isinstance(value, Frozen) and value._ts_origin is origin:
        # Frozen already; one frozen for another field (moved across) is frozen
        # again below, so that errors name this field.
        return value
    if isinstance(value, BaseModel):
        return _freeze_model(value, origin)
    if isinstance(value, Log):
        return frozen_log(value, origin, freeze)
    if dataclasses.is_dataclass(value) and hasattr(value, "__dict__"):
        if isinstance(cast("Any", value), Frozen):  # frozen for another field: its plain copy
            value = copy.copy(value)
        return _freeze_dataclass(value, origin)
    if isinstance(value, list):
        frozen_list = FrozenList(freeze(v, origin) for v in value)
        frozen_list._ts_origin = origin
        return frozen_list
    if isinstance(value, dict):
        return _frozen_mapping(value, origin)
    if isinstance(value, collections.deque):
        frozen_deque = FrozenDeque((freeze(v, origin) for v in value), value.maxlen)
        frozen_deque._ts_origin = origin
        return frozen_deque
    if isinstance(value, set):
        frozen_set = FrozenSet(value)
        frozen_set._ts_origin = origin
        return frozen_set
    if kind is tuple or kind is frozenset:
        items = [freeze(v, origin) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return kind(items)
    ndarray = loaded("numpy", "ndarray")
    if ndarray is not None and isinstance(value, ndarray):
        if not value.flags.writeable and value.base is None:
            return value
        array = value.copy()
        array.flags.writeable = False
        return array
    return value


def frozen_list(items: Iterable[Any], origin: Origin) -> FrozenList:
    """A read-only list of ``items``, which are frozen already (not walked again)."""
    value = FrozenList(items)
    value._ts_origin = origin
    return value


def extended(old: Any, added: list[Any], keep_last: int | None, origin: Origin) -> Any:
    """A list field's value ``old`` (a frozen list, or a ``Log``) and then ``added``
    (frozen already), only the last ``keep_last`` kept: a new value, ``old`` unchanged."""
    if isinstance(old, Log):
        return appended(old, added, keep_last)
    # One copy of the old items' pointers, then the new ones (through list's own
    # methods: the frozen list refuses them), then the oldest dropped.
    value = frozen_list(old, origin)
    list.extend(value, added)
    if keep_last is not None and len(value) > keep_last:
        list.__delitem__(value, slice(0, len(value) - keep_last))
    return value


def editable(value: Any) -> Any:
    """A plain, mutable deep copy of a stored value: ``mutate()``'s draft, a widget's
    value.  A ``Log`` is immutable, as a tuple is (its deep copy is a ``Log``): it is
    edited as a list."""
    plain = deepcopy(value)
    return list(plain) if isinstance(plain, Log) else plain


def frozen_dict(items: dict[Any, Any], origin: Origin) -> FrozenDict:
    """A read-only dict of ``items``, whose values are frozen already."""
    value = FrozenDict(items)
    value._ts_origin = origin
    return value


def _freeze_model(model: BaseModel, origin: Origin) -> BaseModel:
    cls = type(model)
    if isinstance(model, _FrozenModel):
        cls = cls.__bases__[1]
    frozen = _frozen_class(cls)
    instance = frozen.__new__(frozen)
    values = {k: freeze(v, origin) for k, v in model.__dict__.items()}
    object.__setattr__(instance, "__dict__", values)
    extra = model.__pydantic_extra__
    if extra:
        extra = {k: freeze(v, origin) for k, v in extra.items()}
    object.__setattr__(instance, "__pydantic_extra__", extra)
    fields_set = frozenset(model.__pydantic_fields_set__)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    private = model.__pydantic_private__
    if private:
        private = {k: freeze(v, origin) for k, v in private.items()}
    object.__setattr__(instance, "__pydantic_private__", private)
    object.__setattr__(instance, "_ts_origin", origin)
    return instance


def _is_readonly_array(value: Any) -> bool:
    ndarray = loaded("numpy", "ndarray")
    return (
        ndarray is not None
        and isinstance(value, ndarray)
        and not value.flags.writeable
        and value.base is None
    )
