"""Values leave the process as JSON and come back exactly, whatever they hold."""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import os
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from typed_state import ConfigurationError, SharedState
from typed_state._backends._codec import codec_for
from typed_state._change import differs

EXAMPLES = int(os.environ.get("TYPED_STATE_HYPOTHESIS_EXAMPLES", "20")) * 5


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: float
    label: bytes = b""
    when: datetime.datetime | None = None


class Everything(SharedState):
    f: float = 0.0
    floats: list[float] = Field(default_factory=list)
    big: int = 0
    when: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    raw: bytes = b""
    money: decimal.Decimal = decimal.Decimal("0")
    color: Color = Color.RED
    pair: tuple[int, str] = (0, "")
    tags: set[str] = Field(default_factory=set)
    points: list[Point] = Field(default_factory=list)
    by_name: dict[str, Point] = Field(default_factory=dict)
    span: datetime.timedelta = datetime.timedelta(0)
    ident: uuid.UUID = uuid.UUID(int=0)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and -0.0 told from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        both_nan = math.isnan(a) and math.isnan(b)
        return both_nan or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        return type(a).__name__ == type(b).__name__ and same(a.__dict__, b.__dict__)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, decimal.Decimal):
        return isinstance(b, decimal.Decimal) and str(a) == str(b)  # 1.10 stays 1.10
    if isinstance(a, datetime.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return isinstance(b, type(a)) and a == b and not differs(a, b)


floats = st.floats(allow_nan=True, allow_infinity=True)
zones = st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=5, minutes=30))])
aware = st.datetimes(timezones=zones)
points = st.builds(Point, x=floats, label=st.binary(max_size=8), when=st.none() | aware)
VALUES = {
    "f": floats,
    "floats": st.lists(floats, max_size=5),
    "big": st.integers(min_value=-(2**100), max_value=2**100),
    "when": aware,
    "raw": st.binary(max_size=32),
    "money": st.decimals(allow_nan=False, allow_infinity=False, places=4),
    "color": st.sampled_from(Color),
    "pair": st.tuples(st.integers(), st.text(max_size=5)),
    "tags": st.sets(st.text(max_size=4), max_size=4),
    "points": st.lists(points, max_size=3),
    "by_name": st.dictionaries(st.text(max_size=3), points, max_size=3),
    "span": st.timedeltas(),
    "ident": st.uuids(),
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_every_supported_value_round_trips_exactly(data: st.DataObject) -> None:
    codec = codec_for(Everything)
    for name, strategy in VALUES.items():
        value = data.draw(strategy, label=name)
        back = codec.decode(name, codec.encode(name, value))
        assert same(value, back), (name, value, back)


def test_nan_and_infinities_are_constants_not_null() -> None:
    codec = codec_for(Everything)
    assert codec.encode("floats", [1.0, math.nan, -math.inf]) == b"[1.0,NaN,-Infinity]"
    assert codec.encode("f", -0.0) == b"-0.0"


class Arrays(SharedState):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    array: np.ndarray = Field(default_factory=lambda: np.zeros(2))
    frame: pd.DataFrame = Field(default_factory=pd.DataFrame)
    series: pd.Series = Field(default_factory=lambda: pd.Series([1.5], name="s"))


def test_numpy_and_pandas_values_round_trip() -> None:
    codec = codec_for(Arrays)
    array = np.array([[1.5, np.nan], [3.0, -0.0]], dtype=np.float32)
    back = codec.decode("array", codec.encode("array", array))
    assert back.dtype == np.float32
    assert back.shape == (2, 2)
    assert np.array_equal(back, array, equal_nan=True)
    assert not back.flags.writeable  # read-only, as every stored value
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    assert codec.decode("frame", codec.encode("frame", frame)).equals(frame)
    series = pd.Series([1.0, 2.5], name="s")
    assert codec.decode("series", codec.encode("series", series)).equals(series)
    codec.check_storable("Redis")


def test_an_arbitrary_type_without_a_json_form_is_a_clear_error() -> None:
    class Handle:
        pass

    class Odd(SharedState):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        handle: Handle | None = None

    with pytest.raises(ConfigurationError, match=r"Odd\.handle is declared as .*Handle.*Redis"):
        codec_for(Odd).check_storable("Redis")


# -- stored values read through the class ------------------------------------------------


class Ranged(BaseModel):
    lo: int = 0
    hi: int = 1
    when: datetime.datetime = Field(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), strict=True)
    name: str = Field("", validation_alias=AliasChoices("name", "title"))

    @field_validator("name", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered(self) -> Ranged:
        if self.lo > self.hi:
            raise ValueError("lo must not exceed hi")
        return self


def test_a_stored_state_is_read_through_the_class() -> None:
    """Each field's type adapter skipped the class's validators and aliases."""
    reading = codec_for(Ranged).read(
        {"lo": b"2", "hi": b"3", "title": b'"old"', "when": b'"2026-05-01T00:00:00Z"'}
    )
    assert reading.values["name"] == "OLD"  # the alias's old name, the before-validator
    assert reading.values["when"].month == 5  # a strict datetime, from its JSON text
    assert (reading.values["lo"], reading.values["hi"]) == (2, 3)
    assert (reading.unreadable, reading.rule) == ({}, None)


def test_one_field_is_not_judged_by_a_rule_against_the_others_held() -> None:
    """Locks are taken one field after the other: hi read under its lock was found
    "unreadable" against the lo this process still held (older than it)."""
    reading = codec_for(Ranged).read({"hi": b"3"}, base={"lo": 5, "hi": 10})
    assert (reading.values, reading.unreadable) == ({"hi": 3}, {})


def test_a_stored_state_that_breaks_a_rule_says_so_and_shows_its_values() -> None:
    reading = codec_for(Ranged).read({"lo": b"7", "hi": b"3"})
    assert (reading.values["lo"], reading.values["hi"]) == (7, 3)
    assert reading.rule == "Value error, lo must not exceed hi"


def test_an_unreadable_field_shows_its_default_and_says_what_is_stored() -> None:
    reading = codec_for(Ranged).read({"lo": b'"many"', "hi": b"3"})
    assert reading.values["lo"] == 0
    assert reading.unreadable["lo"].stored == '"many"'
    assert "Input should be a valid integer" in reading.unreadable["lo"].reason
    assert reading.values["hi"] == 3


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(0, validation_alias=AliasChoices("n", "m"))  # read through the class


def test_a_class_that_forbids_extras_reads_past_a_removed_fields_value() -> None:
    assert codec_for(Closed).by_class
    assert codec_for(Closed).read({"n": b"4", "gone": b"1"}).values == {"n": 4}
    assert codec_for(Closed).read({"m": b"5", "gone": b"1"}).values == {"n": 5}


class Reading(BaseModel):
    at: datetime.datetime
    value: float


class Readings(SharedState):
    items: list[Reading] = Field(default_factory=list)


def test_a_library_another_thread_is_still_importing_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker thread appended while the page's first st.line_chart imported numpy:
    numpy was in sys.modules without its attributes yet, and freezing the new item
    raised AttributeError ('partially initialized module 'numpy' has no attribute
    'ndarray'').  Found running examples/recipes/dashboard.py in a browser."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "numpy", types.ModuleType("numpy"))
    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))
    reading = Reading(at=datetime.datetime(2026, 12, 6), value=0.5)
    readings = Readings.get()
    readings.append(lambda r: r.items, reading)  # freezes the item
    readings.items = [reading, reading]  # compares, then freezes
    assert not differs(readings.items, [reading, reading])
    codec = codec_for(Readings)
    assert codec.decode("items", codec.encode("items", readings.items)) == [reading, reading]
