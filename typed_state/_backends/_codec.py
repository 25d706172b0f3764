"""Fields as JSON, through Pydantic: how values leave the process (never pickle).

A value read back is validated against the field's declared type in JSON mode,
so data from the store can never run code, and data that no longer fits (a
replica with another schema, a corrupt key) is caught where it is read.  Values
come out frozen (read-only, see :mod:`typed_state._readonly`), as every stored
value is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import TypeAdapter

from typed_state._readonly import Origin, freeze

if TYPE_CHECKING:
    from pydantic import BaseModel


class FieldCodec:
    """Encodes and decodes the fields of one state class."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        self._origins = {name: Origin(cls.__name__, name) for name in cls.model_fields}

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
            adapter = self._adapters[name] = TypeAdapter(form)
        return adapter

    def encode(self, name: str, value: Any) -> bytes:
        return self._adapter(name).dump_json(value)

    def decode(self, name: str, raw: bytes | str) -> Any:
        """The (frozen) value of ``raw``; raises ``pydantic.ValidationError`` if it does not fit."""
        return self.freeze(name, self._adapter(name).validate_json(raw))

    def default(self, name: str) -> Any:
        """A field's default value, frozen."""
        return self.freeze(name, self.cls.model_fields[name].get_default(call_default_factory=True))

    def freeze(self, name: str, value: Any) -> Any:
        """``value`` made read-only as a value of field ``name`` (see :func:`freeze`)."""
        return freeze(value, self._origins[name])


def codec_for(cls: type[BaseModel]) -> FieldCodec:
    """The codec of ``cls``, built once per class."""
    codec: FieldCodec | None = cls.__dict__.get("__typed_state_codec__")
    if codec is None:
        codec = FieldCodec(cls)
        type.__setattr__(cls, "__typed_state_codec__", codec)
    return codec
