"""Fields as JSON, through Pydantic: how values leave the process (never pickle).

A value read back is validated against the field's declared type, so data from
the store can never run code, and data that no longer fits (a replica with
another schema, a corrupt key) is caught where it is read.  Values come out
frozen (read-only, see ``typed_state._readonly``), as every stored value is.

Every value round-trips exactly, whatever it holds: Pydantic turns it into
Python data (models into dicts), which is written as JSON with NaN and
infinities as the constants ``NaN``/``Infinity`` (Pydantic's default JSON makes
them ``null``, which no float field accepts back).  Two kinds of value need a
tag, because JSON cannot tell them from a string or an object:

- ``bytes`` anywhere in the value: ``{"__typed_state__": "bytes", "b64": ...}``;
- numpy arrays (``.npy`` format, no pickle) and pandas DataFrames and Series
  (Parquet, which Streamlit's own dependency pyarrow writes), for fields
  declared with ``arbitrary_types_allowed``.

The tags are only looked for in fields whose schema can hold such values, so
other fields pay nothing for them.  Any other arbitrary type cannot be stored
outside the process: ``FieldCodec.check_storable`` says so, naming the
field, when the class first meets such a store.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import io
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import pydantic_core
from pydantic import AliasChoices, ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

from typed_state._convert import validating
from typed_state._errors import ConfigurationError
from typed_state._loaded import loaded
from typed_state._readonly import Origin, freeze

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pydantic import BaseModel
    from pydantic.plugin._schema_validator import PluggableSchemaValidator

_TAG = "__typed_state__"

MAX_DEPTH = 200
"""Levels of nesting a stored value may have: the JSON parser reads 201, no more."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored value this class cannot read: it is shown as the field's default."""

    stored: str
    """The stored JSON, in short."""
    reason: str
    """Why it does not validate, as Pydantic says it."""


@dataclass(slots=True)
class Reading:
    """Stored fields as one class reads them."""

    values: dict[str, Any]
    """Per field, its value (frozen); the default where the stored value is unreadable."""
    unreadable: dict[str, Unreadable] = field(default_factory=dict)
    rule: str | None = None
    """Why the stored state breaks a model validator of the class (no one field to
    blame: its values are shown as they are, with a warning), else None."""


class FieldCodec:
    """Encodes and decodes the fields of one state class."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        self._tagged: dict[str, bool] = {}
        self._origins = {name: Origin(cls.__name__, name) for name in cls.model_fields}
        self._items_adapters: dict[str, TypeAdapter[Any]] = {}
        self._loose: dict[str, bool] = {}
        """Per field, whether it holds ``Any`` somewhere: JSON keeps less of such a value
        than the writer had (``{1: "a"}`` comes back ``{"1": "a"}``, a tuple a list)."""

    @property
    def names(self) -> list[str]:
        return list(self.cls.model_fields)

    def _adapter(self, name: str) -> TypeAdapter[Any]:
        adapter = self._adapters.get(name)
        if adapter is None:
            info = copy.copy(self.cls.model_fields[name])
            # A field's names are the class's business (read() runs its aliases); an
            # adapter warns about them, which users would see for nothing.
            info.alias = info.validation_alias = info.serialization_alias = None
            # The FieldInfo carries the constraints (ge=0, max_length...); the
            # type is only known at run time, hence no static type form.
            form: Any = Annotated[info.annotation, info]
            config = ConfigDict(
                arbitrary_types_allowed=bool(self.cls.model_config.get("arbitrary_types_allowed"))
            )
            try:
                adapter = TypeAdapter(form, config=config)
            except PydanticUserError:  # a model type: its own config applies
                adapter = TypeAdapter(form)
            self._adapters[name] = adapter
            self._tagged[name] = _holds(adapter.core_schema, ("bytes", "is-instance", "any"))
            self._loose[name] = _holds(adapter.core_schema, ("any",))
        return adapter

    def check_storable(self, backend: str) -> None:
        """Raise ``ConfigurationError`` for a field ``backend`` cannot store.

        Called when a class first meets a store outside the process: an
        arbitrary type with no JSON form (neither numpy nor pandas) fails here,
        naming the field, rather than on some later write.
        """
        for name in self.cls.model_fields:
            for kind in _instance_types(self._adapter(name).core_schema):
                if not _taggable(kind):
                    raise ConfigurationError(
                        f"{self.cls.__name__}.{name} is declared as {kind.__qualname__}, which "
                        f"the {backend} backend cannot store: it stores JSON, and knows "
                        "numpy arrays and pandas DataFrames and Series besides. Use a "
                        "JSON-able type (a Pydantic model, lists, dicts...) or the memory "
                        "backend for this class (StateConfig(typed_state_url='memory://'))."
                    )

    def encode(self, name: str, value: Any) -> bytes:
        """The JSON of a field's value (exact: see the module's docstring).

        Raises ``pydantic.ValidationError`` for a value nested deeper than any
        process could read back (see ``_readable``).
        """
        adapter = self._adapter(name)
        data = adapter.dump_python(value, mode="python")
        if self._tagged[name]:
            data = _tag(data)
        return self._readable(name, lambda: pydantic_core.to_json(data, inf_nan_mode="constants"))

    def _readable(self, name: str, encode: Callable[[], bytes]) -> bytes:
        """The JSON ``encode`` makes, refused unless it can be decoded again.

        The JSON parser stops at ``MAX_DEPTH`` levels of nesting: a deeper value
        written would make every later read of the field fail, in every process,
        until someone repaired the store by hand.  Counting brackets (a C loop)
        spares the parse for the usual value, which cannot nest that deep.
        """
        problem = None
        try:
            raw = encode()
        except ValueError as exc:  # the serializer's own depth limit (or a value it refuses)
            problem = str(exc)
        else:
            if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
                return raw
            try:
                pydantic_core.from_json(raw, allow_inf_nan=True)
            except ValueError as exc:
                problem = str(exc)
            else:
                return raw
        raise too_deep(self.cls.__name__, name, problem)

    def decode(self, name: str, raw: bytes | str | list[Any]) -> Any:
        """The (frozen) value of ``raw`` (JSON, or a list field's item JSONs) as the field's
        type reads it; raises ``ValueError`` (a ``pydantic.ValidationError``, or bad JSON)
        if it does not fit.  ``read`` reads through the class itself."""
        adapter = self._adapter(name)
        raw = _joined(raw)
        if self._tagged[name]:
            data = _untag(pydantic_core.from_json(raw, allow_inf_nan=True))
            return self.freeze(name, adapter.validate_python(data))
        return self.freeze(name, adapter.validate_json(raw))

    # -- reading through the class ----------------------------------------------------

    @functools.cached_property
    def by_class(self) -> bool:
        """Whether stored values must be read through the class, not each field's type:
        it has field or model validators, or a field has a validation alias.  Those
        are Pydantic's migration tools (a before-validator that turns an old shape
        into the new one, ``AliasChoices(new, old)`` for a renamed field, a new rule),
        and only the class runs them."""
        decorators = self.cls.__pydantic_decorators__
        return bool(decorators.field_validators or decorators.model_validators) or any(
            info.validation_alias is not None for info in self.cls.model_fields.values()
        )

    def read(self, stored: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> Reading:
        """Stored fields (name -> JSON, a list field's item JSONs, or None) as this class
        reads them, its validators and aliases included.

        Without ``base``, ``stored`` is a whole stored state (its other names too: a
        renamed field's old name, a removed field's value) and every field of the class
        is read, the ones not stored as their defaults.  With ``base`` (the values this
        process holds), only the fields of the class that ``stored`` names are read,
        each validated with the others at their ``base`` values, as a write would.
        A value that does not validate is read as its field's default and reported in
        ``Reading.unreadable``.
        """
        names = list(self.names) if base is None else [n for n in stored if n in self._origins]
        if not self.by_class:
            return self._read_by_type(names, stored)
        data: dict[str, Any] = {}
        broken: dict[str, ValueError] = {}
        for source in self._sources(stored, names):
            try:
                data[source] = self._python(source, stored[source])
            except ValueError as exc:  # not JSON this parser reads
                broken[source] = exc
        models = self.cls.__pydantic_decorators__.model_validators
        if not broken and (base is None or (len(names) > 1 and models)):
            try:
                with validating():
                    whole = self.cls.model_validate(
                        {**(base or {}), **data}, by_alias=True, by_name=True
                    )
            except ValidationError:
                pass  # field by field below: which fields, and why
            else:
                return Reading({n: self.freeze(n, whole.__dict__[n]) for n in names})
        reading = self._read_by_field(names, stored, data, broken, base)
        if base is None and models and not reading.unreadable:
            try:
                with validating():
                    self.cls.model_validate(reading.values)
            except ValidationError as exc:
                reading.rule = _reason("", exc)
        return reading

    def _read_by_type(self, names: list[str], stored: Mapping[str, Any]) -> Reading:
        reading = Reading({})
        for name in names:
            raw = stored.get(name)
            try:
                reading.values[name] = self.default(name) if raw is None else self.decode(name, raw)
            except ValueError as exc:
                reading.values[name] = self.default(name)
                reading.unreadable[name] = _unreadable(name, raw, exc)
        return reading

    def _read_by_field(
        self,
        names: list[str],
        stored: Mapping[str, Any],
        data: Mapping[str, Any],
        broken: Mapping[str, ValueError],
        base: Mapping[str, Any] | None,
    ) -> Reading:
        """Each field validated alone, through the class (``validate_assignment``), with
        the others at the values read so far."""
        current = dict(base) if base is not None else {n: self.default(n) for n in self.names}
        reading = Reading({})
        for name in names:
            source = self._source(name, stored)
            if source is None:
                reading.values[name] = current[name]
                continue
            try:
                if source in broken:
                    raise broken[source]
                value = self._validated(name, data[source], stored[source], current)
            except ValueError as exc:
                value = self.default(name)
                reading.unreadable[name] = _unreadable(name, stored[source], exc)
            reading.values[name] = current[name] = value
        return reading

    @functools.cached_property
    def _field_validator(self) -> SchemaValidator | PluggableSchemaValidator:
        """The class's validator without its model validators, for one field at a time.

        A rule over several fields (``lo <= hi``) judges one field read from the store
        against the others as this process holds them, some maybe older than the one
        read (their locks are taken one after the other): it would find a stored value
        unreadable that is not.  Such a rule is checked on the whole stored state, when
        it is loaded (``read``), and on every write.
        """
        validator = self.cls.__pydantic_validator__
        schema: Any = self.cls.__pydantic_core_schema__
        if not self.cls.__pydantic_decorators__.model_validators:
            return validator
        wrapped = schema["schema"] if schema.get("type") == "definitions" else schema
        inner = wrapped
        while inner.get("type", "").startswith("function-") and "schema" in inner:
            inner = inner["schema"]
        if inner.get("type") != "model":
            return validator  # a shape this code does not know: the whole class, as before
        unwrapped = {**schema, "schema": inner} if wrapped is not schema else inner
        try:
            return SchemaValidator(unwrapped, inner.get("config"))
        except Exception:  # e.g. a model that refers to itself through the outer ref
            return validator

    def _validated(self, name: str, data: Any, raw: Any, others: Mapping[str, Any]) -> Any:
        """One field's stored value validated by the class (model validators aside), the
        other fields at ``others``."""
        validator = self._field_validator
        shadow = self.cls.model_construct(**others)
        with validating():
            try:
                validator.validate_assignment(shadow, name, data)
            except ValidationError as first:
                # A strict field reads JSON text (a date's ISO string) only in JSON mode.
                try:
                    typed = self._adapter(name).validate_json(_joined(raw))
                except ValueError:
                    raise first from None
                validator.validate_assignment(shadow, name, typed)
        return self.freeze(name, shadow.__dict__[name])

    def _python(self, source: str, raw: Any) -> Any:
        """Stored JSON as Python data (bytes, arrays and frames untagged)."""
        data = pydantic_core.from_json(_joined(raw), allow_inf_nan=True)
        if source in self._origins:
            self._adapter(source)  # knows whether the field can hold tagged values
            if not self._tagged[source]:
                return data
        return _untag(data)

    def _source(self, name: str, stored: Mapping[str, Any]) -> str | None:
        """The stored name that holds field ``name``'s value: its own, else the first
        of its validation alias's names stored (a renamed field's old name)."""
        if stored.get(name) is not None:
            return name
        for choice in self._aliases(name):
            if stored.get(choice) is not None:
                return choice
        return None

    def _sources(self, stored: Mapping[str, Any], names: list[str]) -> list[str]:
        """The stored names a read of ``names`` looks at: theirs and their aliases'; every
        stored name where a model validator sees the raw input (mode before or wrap)."""
        models = self.cls.__pydantic_decorators__.model_validators.values()
        if any(m.info.mode != "after" for m in models):
            wanted = set(stored)
        else:
            wanted = set(names)
            for name in names:
                wanted.update(self._aliases(name))
        if self.cls.model_config.get("extra") == "forbid":
            wanted &= {*self.names, *(a for n in self.names for a in self._aliases(n))}
        return [name for name in stored if name in wanted and stored[name] is not None]

    def _aliases(self, name: str) -> list[str]:
        """The plain names field ``name``'s ``validation_alias`` reads."""
        return _alias_names(self.cls.model_fields[name].validation_alias)

    def as_stored(self, name: str, value: Any, raw: bytes | str) -> Any:
        """What every process reads of a write: ``value`` itself, or, for a field that
        holds ``Any``, the value decoded from ``raw`` (its JSON), so that the writer
        sees what the others and a restart see."""
        self._adapter(name)
        return self.decode(name, raw) if self._loose[name] else value

    def default(self, name: str) -> Any:
        """A field's default value, frozen."""
        return self.freeze(name, self.cls.model_fields[name].get_default(call_default_factory=True))

    def freeze(self, name: str, value: Any) -> Any:
        """``value`` made read-only as a value of field ``name`` (see ``freeze``)."""
        return freeze(value, self._origins[name])

    def origin(self, name: str) -> Origin:
        """What the frozen values of field ``name`` name in their errors."""
        return self._origins[name]

    def encode_items(self, name: str, items: list[Any]) -> list[bytes]:
        """The JSON of each item of a list field's value, apart (a store's list)."""
        data = self._adapter(name).dump_python(items, mode="python")
        if self._tagged[name]:
            data = _tag(data)
        return [
            self._readable(
                name, functools.partial(pydantic_core.to_json, item, inf_nan_mode="constants")
            )
            for item in data
        ]

    def decode_items(self, name: str, raws: list[bytes]) -> list[Any]:
        """The (frozen) items of ``encode_items``; the field's constraints are not
        checked (these are some of its items, not its value)."""
        adapter = self._items_adapters.get(name)
        if adapter is None:
            self._adapter(name)  # the field's tagging
            annotation: Any = self.cls.model_fields[name].annotation
            adapter = self._items_adapters[name] = TypeAdapter(
                annotation,
                config=ConfigDict(
                    arbitrary_types_allowed=bool(
                        self.cls.model_config.get("arbitrary_types_allowed")
                    )
                ),
            )
        joined = b"[" + b",".join(raws) + b"]"
        if self._tagged[name]:
            values = adapter.validate_python(
                _untag(pydantic_core.from_json(joined, allow_inf_nan=True))
            )
        else:
            values = adapter.validate_json(joined)
        origin = self._origins[name]
        return [freeze(value, origin) for value in values]


def _joined(raw: bytes | str | list[Any]) -> bytes | str:
    """A list field's item JSONs (bytes from Redis, str from SQLite) as one JSON array."""
    if not isinstance(raw, list):
        return raw
    if raw and isinstance(raw[0], str):
        return "[" + ",".join(raw) + "]"
    return b"[" + b",".join(raw) + b"]"


def _alias_names(alias: Any) -> list[str]:
    """The plain names a ``validation_alias`` reads (a str, or AliasChoices' str choices)."""
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _unreadable(name: str, raw: Any, exc: ValueError) -> Unreadable:
    """What is stored for field ``name`` (in short), and why it is unreadable."""
    text = _joined(raw)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return Unreadable(text if len(text) <= 60 else text[:57] + "...", _reason(name, exc))


def _reason(name: str, exc: ValueError) -> str:
    """Why a value of field ``name`` does not validate: ``0.prio: Field required``."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    errors = exc.errors()
    reasons = []
    for error in errors[:_REASONS_SHOWN]:
        where = list(error["loc"])
        if where[:1] == [name]:  # validated through the class: located in the model
            where = where[1:]
        place = ".".join(map(str, where))
        reasons.append(f"{place}: {error['msg']}" if place else error["msg"])
    if len(errors) > _REASONS_SHOWN:
        # A list of 10,000 items of an older shape fails on each: a few say why.
        reasons.append(f"and {len(errors) - _REASONS_SHOWN} more")
    return "; ".join(reasons)


_REASONS_SHOWN = 3
"""How many of a value's validation errors a warning or an error names."""


def too_deep(title: str, name: str, problem: str) -> ValidationError:
    """The error for a value of field ``name`` nested too deeply to be stored."""
    return ValidationError.from_exception_data(
        title,
        [
            {
                "type": "value_error",
                "loc": (name,),
                "input": "<a value nested too deeply>",
                "ctx": {
                    "error": ValueError(
                        f"cannot be stored: nested more than {MAX_DEPTH} levels deep, "
                        f"or not JSON-able ({problem})"
                    )
                },
            }
        ],
    )


def codec_for(cls: type[BaseModel]) -> FieldCodec:
    """The codec of ``cls``, built once per class."""
    codec: FieldCodec | None = cls.__dict__.get("__typed_state_codec__")
    if codec is None:
        codec = FieldCodec(cls)
        type.__setattr__(cls, "__typed_state_codec__", codec)
    return codec


# -- the schema -------------------------------------------------------------------------


def _walk(schema: Any) -> Any:
    """Every dict in a core schema (nested models, definitions, unions...)."""
    stack = [schema]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


def _holds(schema: Any, kinds: tuple[str, ...]) -> bool:
    return any(node.get("type") in kinds for node in _walk(schema))


def _taggable(kind: type) -> bool:
    """Whether instances of ``kind`` have a tagged JSON form (numpy, pandas)."""
    kinds = [loaded("numpy", "ndarray"), loaded("pandas", "DataFrame"), loaded("pandas", "Series")]
    return any(found is not None and issubclass(kind, found) for found in kinds)


def _instance_types(schema: Any) -> list[type]:
    return [
        node["cls"]
        for node in _walk(schema)
        if node.get("type") == "is-instance" and isinstance(node.get("cls"), type)
    ]


# -- tags ---------------------------------------------------------------------------------


def _tag(data: Any) -> Any:
    """``data`` with bytes, arrays and frames replaced by tagged JSON objects."""
    if isinstance(data, dict):
        return {k: _tag(v) for k, v in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        return [_tag(v) for v in data]
    if isinstance(data, bytes | bytearray):
        return {_TAG: "bytes", "b64": base64.b64encode(data).decode()}
    ndarray = loaded("numpy", "ndarray")
    if ndarray is not None and isinstance(data, ndarray):
        numpy = sys.modules["numpy"]
        buffer = io.BytesIO()
        numpy.save(buffer, data, allow_pickle=False)
        return {_TAG: "ndarray", "b64": base64.b64encode(buffer.getvalue()).decode()}
    series, dataframe = loaded("pandas", "Series"), loaded("pandas", "DataFrame")
    if series is not None and isinstance(data, series):
        kind, frame = "series", data.to_frame()
    elif dataframe is not None and isinstance(data, dataframe):
        kind, frame = "dataframe", data
    else:
        return data
    return {_TAG: kind, "b64": base64.b64encode(frame.to_parquet()).decode()}


def _untag(data: Any) -> Any:
    """The inverse of ``_tag``, on data parsed from JSON."""
    if isinstance(data, list):
        return [_untag(v) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data.get(_TAG)
    if kind is None:
        return {k: _untag(v) for k, v in data.items()}
    raw = base64.b64decode(data["b64"])
    if kind == "bytes":
        return raw
    if kind == "ndarray":
        import numpy

        return numpy.load(io.BytesIO(raw), allow_pickle=False)
    pandas = importlib.import_module("pandas")  # untyped: no pandas-stubs needed
    frame = pandas.read_parquet(io.BytesIO(raw))
    return frame.iloc[:, 0] if kind == "series" else frame
