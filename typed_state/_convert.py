"""Model instances inside field values, converted: for classes a page declares anew on every run."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from typed_state._log import Log, is_frozen_log
from typed_state._readonly import ATOMIC, Frozen

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = TypeVar("T")

VALIDATING: ContextVar[bool] = ContextVar("typed_state_validating", default=False)
"""True while typed_state validates values through a SharedState class, whose
``__init__`` otherwise refuses to build instances."""


@contextmanager
def validating() -> Iterator[None]:
    """Let Pydantic build instances of a SharedState class (to validate values)."""
    token = VALIDATING.set(True)
    try:
        yield
    finally:
        VALIDATING.reset(token)


def accepting_earlier_models(validate: Callable[[Any], T], value: Any) -> T:
    """``validate(value)``; where it fails, again with the models in ``value`` as dicts.

    A page script that declares its models declares new classes on every run,
    and a callback runs with the previous run's: Pydantic rejects those
    instances.  When the second try fails too, its error is the one that says
    why; when ``value`` holds no model, the first error is raised as it came.
    """
    try:
        return validate(value)
    except ValidationError:
        plain = foreign_models_to_dicts(value)
        if plain is value:
            raise
    return validate(plain)


def foreign_models_to_dicts(value: Any) -> Any:
    """Turn nested models into dicts, so that a re-defined class accepts them.

    A page script that defines ``class Message(BaseModel)`` defines a new
    class on every run; the messages stored by an earlier run are instances of
    an earlier class, which Pydantic rejects.  Returns ``value`` itself when
    there was nothing to convert.
    """
    return map_models(value, lambda model: model.model_dump(), skip_frozen=False)


def map_models(value: Any, convert: Any, *, skip_frozen: bool) -> Any:
    """``value`` with ``convert(model)`` for each model in it, containers rebuilt
    only where something changed (``value`` itself when nothing did)."""
    if type(value) in ATOMIC or (
        skip_frozen and (isinstance(value, Frozen) or is_frozen_log(value))
    ):
        return value
    if isinstance(value, BaseModel):
        return convert(value)
    if isinstance(value, list | tuple | set | frozenset | Log):
        items = [map_models(v, convert, skip_frozen=skip_frozen) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else type(value)(items)
    if isinstance(value, dict):
        converted = {k: map_models(v, convert, skip_frozen=skip_frozen) for k, v in value.items()}
        if all(converted[k] is value[k] for k in value):
            return value
        return converted
    return value
