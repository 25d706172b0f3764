"""Fields as JSON, through Pydantic: how values leave the process (never pickle).

A value read back is validated against the field's declared type, so data from
the store can never run code, and data that no longer fits (a replica with
another schema, a corrupt key) is caught where it is read.  Values come out
frozen (read-only, see :mod:`typed_state._readonly`), as every stored value is.

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
outside the process: :meth:`FieldCodec.check_storable` says so, naming the
field, when the class first meets such a store.
"""

from __future__ import annotations

import base64
import functools
import importlib
import io
import sys
from typing import TYPE_CHECKING, Annotated, Any

import pydantic_core
from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError

from typed_state._errors import ConfigurationError
from typed_state._readonly import Origin, freeze

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

_TAG = "__typed_state__"

MAX_DEPTH = 200
"""Levels of nesting a stored value may have: the JSON parser reads 201, no more."""


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
            info = self.cls.model_fields[name]
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
        """Raise :class:`ConfigurationError` for a field ``backend`` cannot store.

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
        process could read back (see :func:`_readable`).
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

    def decode(self, name: str, raw: bytes | str) -> Any:
        """The (frozen) value of ``raw``; raises ``pydantic.ValidationError`` if it does not fit."""
        adapter = self._adapter(name)
        if self._tagged[name]:
            data = _untag(pydantic_core.from_json(raw, allow_inf_nan=True))
            return self.freeze(name, adapter.validate_python(data))
        return self.freeze(name, adapter.validate_json(raw))

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
        """``value`` made read-only as a value of field ``name`` (see :func:`freeze`)."""
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
        """The (frozen) items of :meth:`encode_items`; the field's constraints are not
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
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    return (numpy is not None and issubclass(kind, numpy.ndarray)) or (
        pandas is not None and issubclass(kind, pandas.DataFrame | pandas.Series)
    )


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
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(data, numpy.ndarray):
        buffer = io.BytesIO()
        numpy.save(buffer, data, allow_pickle=False)
        return {_TAG: "ndarray", "b64": base64.b64encode(buffer.getvalue()).decode()}
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        kind = "series" if isinstance(data, pandas.Series) else "dataframe"
        frame = data.to_frame() if isinstance(data, pandas.Series) else data
        parquet = frame.to_parquet()
        return {_TAG: kind, "b64": base64.b64encode(parquet).decode()}
    return data


def _untag(data: Any) -> Any:
    """The inverse of :func:`_tag`, on data parsed from JSON."""
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
