"""Item operations on list and dict fields: ``append``, ``set_item``, ``del_item``.

An item operation validates only what it adds, then checks the field's own
length constraints, so its cost does not grow with the field's validation: a
chat of 100,000 messages validates one message per append, where assigning or
``mutate()`` validates, copies deeply and compares all of them.

That holds when nothing needs to see the whole value: a field whose only
constraints are ``min_length`` / ``max_length``, and a class with no field
validator on it and no model validator.  Otherwise the operation validates the
whole new value as an assignment would (correct, and as costly as one).

The new value is a new read-only list or dict (the old one, which readers may
hold, never changes): copying its pointers costs about 8 ns an item, 0.8 ms at
100,000, next to milliseconds of validation per thousand items it replaces.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from annotated_types import MaxLen, MinLen
from pydantic import TypeAdapter, ValidationError
from pydantic.errors import PydanticUserError

from typed_state._change import differs
from typed_state._convert import accepting_earlier_models
from typed_state._log import Log, log_of
from typed_state._readonly import extended, freeze, frozen_dict, frozen_list

if TYPE_CHECKING:
    from pydantic import BaseModel, ConfigDict

    from typed_state._readonly import Origin


@dataclass(frozen=True, slots=True)
class Edit:
    """The outcome of an item operation, computed under the field's lock."""

    value: Any
    """The new (frozen) value of the field."""
    appended: list[Any] | None = None
    """For an append, the (frozen) items added, which a store can append alone."""
    keep_last: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """How item operations validate one field of one class."""

    kind: str
    """``"list"`` or ``"dict"``."""
    adapter: TypeAdapter[Any]
    """Validates new items: ``list[X]`` or ``dict[K, V]`` without the field's constraints."""
    direct: bool
    """Whether new items can be validated alone (else the whole value is)."""
    min_length: int | None
    max_length: int | None


def plan_for(cls: type[BaseModel], name: str, operation: str) -> Plan:
    """The plan of ``cls.name``, made once; TypeError if it is not a list or dict field."""
    plans: dict[str, Plan] | None = cls.__dict__.get("__typed_state_item_plans__")
    if plans is None:
        plans = {}
        type.__setattr__(cls, "__typed_state_item_plans__", plans)
    plan = plans.get(name)
    if plan is None:
        plan = plans[name] = _make_plan(cls, name, operation)
    if operation == "append" and plan.kind != "list":
        raise TypeError(
            f"{cls.__name__}.{name} is a dict: append() works on list fields; "
            f"use set_item({name!r}, key, value)"
        )
    return plan


def _make_plan(cls: type[BaseModel], name: str, operation: str) -> Plan:
    info = cls.model_fields[name]
    annotation = info.annotation
    origin = typing.get_origin(annotation) or annotation
    if origin not in (list, dict, Log):
        raise TypeError(
            f"{cls.__name__}.{name} is declared as {_show(annotation)}: {operation}() works on "
            "list and dict fields; assign the field, or edit it with mutate()"
        )
    kind = "dict" if origin is dict else "list"
    args = typing.get_args(annotation)
    # A Log's new items are validated as a list's (and then appended to the Log).
    form: Any = (list if origin is Log else origin)[args if args else Any]
    # The class's config (strict, str_strip_whitespace...) applies to the items too.
    config: Any = {k: v for k, v in cls.model_config.items() if not k.startswith("typed_state_")}
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(form, config=cast("ConfigDict", config))
    except PydanticUserError:
        adapter = TypeAdapter(form)
    lengths = [m for m in info.metadata if isinstance(m, MinLen | MaxLen)]
    decorators = cls.__pydantic_decorators__
    validated_whole = any(
        name in d.info.fields or "*" in d.info.fields for d in decorators.field_validators.values()
    ) or bool(decorators.model_validators)
    direct = len(lengths) == len(info.metadata) and not validated_whole
    min_length = max((m.min_length for m in lengths if isinstance(m, MinLen)), default=None)
    max_length = min((m.max_length for m in lengths if isinstance(m, MaxLen)), default=None)
    return Plan(kind, adapter, direct, min_length, max_length)


def _show(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


# -- the operations ----------------------------------------------------------------------
# Each takes the field's current (frozen) value and returns the Edit, or None when
# nothing changes.  Called under the field's lock, only on the direct path.


def append(
    plan: Plan,
    title: str,
    name: str,
    old: Any,
    items: list[Any],
    keep_last: int | None,
    origin: Origin,
) -> Edit | None:
    """``old`` with ``items`` at the end, the oldest dropped beyond ``keep_last``."""
    added = [freeze(item, origin) for item in _validate(plan, title, name, len(old), items)]
    if not added:
        return None
    value = extended(old, added, keep_last, origin)
    _check_length(plan, title, name, value)
    return Edit(value, added, keep_last)


def set_item(
    plan: Plan, title: str, name: str, old: Any, key: Any, item: Any, origin: Origin
) -> Edit | None:
    """``old`` with ``key`` (a dict key, or a list index) set to ``item``."""
    if plan.kind == "dict":
        ((key, value),) = _validate(plan, title, name, key, {key: item}).items()
        value = freeze(value, origin)
        if key in old and not differs(old[key], value):
            return None
        new = dict(old)
        new[key] = value
        _check_length(plan, title, name, new)
        return Edit(frozen_dict(new, origin))
    index = _index(title, name, old, key)
    (value,) = _validate(plan, title, name, index, [item])
    value = freeze(value, origin)
    if not differs(old[index], value):
        return None
    new_list = list(old)
    new_list[index] = value
    return Edit(_same_kind(old, new_list, origin))


def del_item(plan: Plan, title: str, name: str, old: Any, key: Any, origin: Origin) -> Edit:
    """``old`` without ``key`` (a dict key, or a list index)."""
    if plan.kind == "dict":
        if key not in old:
            raise KeyError(f"{title}.{name} has no item {key!r}")
        new = {k: v for k, v in old.items() if k != key}
        _check_length(plan, title, name, new)
        return Edit(frozen_dict(new, origin))
    index = _index(title, name, old, key)
    new_list = [*old[:index], *old[index + 1 :]]
    _check_length(plan, title, name, new_list)
    return Edit(_same_kind(old, new_list, origin))


def _same_kind(old: Any, items: list[Any], origin: Origin) -> Any:
    """``items`` (frozen already) as a value of the kind of ``old``: a Log, or a list."""
    if isinstance(old, Log):
        return log_of(items, origin)
    return frozen_list(items, origin)


def edited_plainly(
    plan: Plan, title: str, name: str, old: Any, operation: str, args: tuple[Any, ...]
) -> Any:
    """The new value as a plain list or dict, for the whole-value path (validated by the
    caller); errors name the state and the field, as on the direct path."""
    if operation == "append":
        items, keep_last = args
        value = [*old, *items]
        return value if keep_last is None else value[-keep_last:]
    new: Any = dict(old) if plan.kind == "dict" else list(old)
    if operation == "set_item":
        key, item = args
        if plan.kind == "list":
            key = _index(title, name, old, key)
        new[key] = item
        return new
    (key,) = args
    if plan.kind == "dict" and key not in old:
        raise KeyError(f"{title}.{name} has no item {key!r}")
    del new[key if plan.kind == "dict" else _index(title, name, old, key)]
    return new


def _validate(plan: Plan, title: str, name: str, start: Any, items: Any) -> Any:
    """``items`` validated; an error locates them in the field, as an assignment's would
    (``messages.1042.text``, not ``0.text``)."""
    try:
        return accepting_earlier_models(plan.adapter.validate_python, items)
    except ValidationError as exc:
        raise _located(exc, plan, title, name, start) from None


def _located(
    exc: ValidationError, plan: Plan, title: str, name: str, start: Any
) -> ValidationError:
    """``exc`` with each error's place counted from the field, not from the new items."""
    errors: list[Any] = []
    for error in exc.errors():
        where = list(error["loc"])
        if where and isinstance(start, int) and plan.kind == "list":
            where[0] = start + int(where[0])
        elif where and plan.kind == "dict":
            where[0] = start
        detail = {"type": error["type"], "loc": (name, *where), "input": error["input"]}
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        errors.append(detail)
    try:
        return ValidationError.from_exception_data(title, errors)
    except Exception:  # a custom error type Pydantic cannot rebuild: as it came
        return exc


def _index(title: str, name: str, old: list[Any], key: Any) -> int:
    if isinstance(key, bool) or not isinstance(key, int):
        raise TypeError(f"{title}.{name} is a list: an item is named by its int index, not {key!r}")
    if not -len(old) <= key < len(old):
        raise IndexError(f"{title}.{name} has {len(old)} items: no index {key}")
    return key % len(old)


def _check_length(plan: Plan, title: str, name: str, value: Any) -> None:
    """The field's ``min_length`` / ``max_length``, with Pydantic's own error."""
    size = len(value)
    kind = "List" if plan.kind == "list" else "Dictionary"
    if plan.max_length is not None and size > plan.max_length:
        error: Any = {
            "type": "too_long",
            "loc": (name,),
            "input": Items(size),
            "ctx": {"field_type": kind, "max_length": plan.max_length, "actual_length": size},
        }
    elif plan.min_length is not None and size < plan.min_length:
        error = {
            "type": "too_short",
            "loc": (name,),
            "input": Items(size),
            "ctx": {"field_type": kind, "min_length": plan.min_length, "actual_length": size},
        }
    else:
        return
    raise ValidationError.from_exception_data(title, [error])


class Items:
    """Stands for a long value in a validation error (which would print it whole)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"<{self.size} items>"
