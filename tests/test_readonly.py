"""Values read from a state are read-only at any depth; mutate() is the way to edit."""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from tests.test_model import Harness
from typed_state import ReadOnlyValueError, SharedState, TypedStateError


class Msg(BaseModel):
    text: str = Field(max_length=5)
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, list[int]] = Field(default_factory=dict)


class Chat(SharedState):
    messages: list[Msg] = Field(default_factory=list, max_length=2)
    tags: dict[str, int] = {}
    seen: set[str] = set()
    pair: tuple[list[int], int] = ([1], 2)
    latest: Msg | None = None


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(monkeypatch)


def _filled() -> Chat:
    chat = Chat.get()
    chat.update(
        messages=[Msg(text="hi", tags=["a"], meta={"k": [1]})],
        tags={"x": 1},
        seen={"ann"},
        latest=Msg(text="yo"),
    )
    return chat


IN_PLACE_CHANGES = {
    "list.append": lambda c: c.messages.append(Msg(text="hi")),
    "list.extend": lambda c: c.messages.extend([]),
    "list.insert": lambda c: c.messages.insert(0, Msg(text="x")),
    "list.pop": lambda c: c.messages.pop(),
    "list.remove": lambda c: c.messages.remove(c.messages[0]),
    "list.clear": lambda c: c.messages.clear(),
    "list.sort": lambda c: c.messages.sort(key=lambda m: m.text),
    "list.reverse": lambda c: c.messages.reverse(),
    "list[i] =": lambda c: c.messages.__setitem__(0, Msg(text="x")),
    "list[a:b] =": lambda c: c.messages.__setitem__(slice(0, 1), []),
    "del list[i]": lambda c: c.messages.__delitem__(0),
    "model.attr =": lambda c: setattr(c.messages[0], "text", "far too long"),
    "del model.attr": lambda c: delattr(c.messages[0], "text"),
    "list in model": lambda c: c.messages[0].tags.append("b"),
    "list in dict in model in list": lambda c: c.messages[0].meta["k"].append(2),
    "dict in model": lambda c: c.messages[0].meta.__setitem__("j", []),
    "optional model": lambda c: setattr(c.latest, "text", "x"),
    "dict[k] =": lambda c: c.tags.__setitem__("y", 2),
    "del dict[k]": lambda c: c.tags.__delitem__("x"),
    "dict.update": lambda c: c.tags.update(y=2),
    "dict.setdefault": lambda c: c.tags.setdefault("y", 2),
    "dict.pop": lambda c: c.tags.pop("x"),
    "dict.popitem": lambda c: c.tags.popitem(),
    "dict.clear": lambda c: c.tags.clear(),
    "set.add": lambda c: c.seen.add("bob"),
    "set.discard": lambda c: c.seen.discard("ann"),
    "set.remove": lambda c: c.seen.remove("ann"),
    "set.pop": lambda c: c.seen.pop(),
    "set.clear": lambda c: c.seen.clear(),
    "set.update": lambda c: c.seen.update({"bob"}),
    "set.difference_update": lambda c: c.seen.difference_update({"ann"}),
    "list in tuple": lambda c: c.pair[0].append(3),
}


@pytest.mark.parametrize("change", IN_PLACE_CHANGES.values(), ids=IN_PLACE_CHANGES.keys())
def test_an_in_place_change_raises_and_changes_nothing(harness: Harness, change: Any) -> None:
    chat = _filled()
    before = chat.model_dump()
    harness.read_as("reader", chat, *Chat.model_fields)
    with pytest.raises(ReadOnlyValueError, match=r"^Chat\.\w+ is read-only"):
        change(chat)
    assert chat.model_dump() == before
    assert harness.reruns("reader") == []


def test_the_error_names_the_state_the_field_and_the_fix() -> None:
    chat = _filled()
    with pytest.raises(ReadOnlyValueError) as caught:
        chat.messages.append(Msg(text="hi"))
    error = caught.value
    assert isinstance(error, TypedStateError)
    assert isinstance(error, TypeError)
    assert (error.state, error.field, error.action) == ("Chat", "messages", "append to")
    assert 'with chat.mutate("messages") as messages:' in str(error)
    assert "chat.messages = ..." in str(error)


def test_the_issue_example_stays_valid() -> None:
    """The three lines that used to store invalid values without a word."""
    chat = Chat.get()
    for _ in range(3):
        with pytest.raises(ReadOnlyValueError):
            chat.messages.append(Msg(text="hi"))
    chat.messages = [Msg(text="hi")]
    with pytest.raises(ReadOnlyValueError):
        chat.messages[0].text = "far too long"
    with pytest.raises(ReadOnlyValueError):
        chat.tags["x"] = 1
    assert chat.messages == [Msg(text="hi")]
    assert chat.tags == {}
    chat.messages = chat.messages  # still valid: nothing slipped past validation


def test_mutate_hands_out_a_plain_mutable_draft(harness: Harness) -> None:
    chat = _filled()
    harness.read_as("reader", chat, "messages")
    with chat.mutate("messages") as messages:
        assert type(messages) is list
        assert type(messages[0]) is Msg
        messages[0].text = "ok"
        messages[0].meta["k"].append(2)
        messages.append(Msg(text="two"))
    assert [m.text for m in chat.messages] == ["ok", "two"]
    assert chat.messages[0].meta == {"k": [1, 2]}
    assert harness.reruns("reader") == [None]
    with pytest.raises(ReadOnlyValueError):
        chat.messages[0].meta["k"].append(3)


def test_mutate_still_validates_the_field() -> None:
    chat = _filled()
    with pytest.raises(ValidationError), chat.mutate("messages") as messages:
        messages.extend([Msg(text="a"), Msg(text="b")])  # max_length=2
    assert len(chat.messages) == 1


def test_augmented_assignment_is_a_validated_write(harness: Harness) -> None:
    chat = _filled()
    harness.read_as("reader", chat, "messages", "tags", "seen")
    chat.messages += [Msg(text="two")]
    chat.tags |= {"y": 2}
    chat.seen |= {"bob"}
    assert [m.text for m in chat.messages] == ["hi", "two"]
    assert chat.tags == {"x": 1, "y": 2}
    assert chat.seen == {"ann", "bob"}
    assert harness.reruns("reader") == [None]
    with pytest.raises(ValidationError):
        chat.messages += [Msg(text="three")]  # max_length=2
    assert len(chat.messages) == 2
    with pytest.raises(ReadOnlyValueError):
        chat.messages[0].text += "!"


def test_a_local_name_for_a_value_does_not_write_it() -> None:
    chat = _filled()
    messages = chat.messages
    messages += [Msg(text="x")]  # rebinds the local name, as with a tuple
    assert len(messages) == 2
    assert len(chat.messages) == 1


def test_a_value_written_is_copied_so_the_writer_cannot_change_it_later() -> None:
    chat = Chat.get()
    mine = [Msg(text="hi")]
    chat.messages = mine
    mine.append(Msg(text="sneak"))
    mine[0].text = "sneak"
    assert chat.messages == [Msg(text="hi")]


def test_read_values_are_what_their_annotation_says() -> None:
    chat = _filled()
    messages = chat.messages
    assert isinstance(messages, list)
    assert isinstance(messages[0], Msg)
    assert isinstance(chat.tags, dict)
    assert isinstance(chat.seen, set)
    assert messages == [Msg(text="hi", tags=["a"], meta={"k": [1]})]
    assert [Msg(text="hi", tags=["a"], meta={"k": [1]})] == messages
    assert messages[0] == Msg(text="hi", tags=["a"], meta={"k": [1]})
    assert repr(messages[0]) == "Msg(text='hi', tags=['a'], meta={'k': [1]})"
    assert [m.text for m in messages] == ["hi"]
    assert messages[:1] == messages
    assert messages[0].model_dump() == {"text": "hi", "tags": ["a"], "meta": {"k": [1]}}
    assert json.loads(messages[0].model_dump_json()) == messages[0].model_dump()
    assert chat.model_dump()["tags"] == {"x": 1}
    assert json.dumps(chat.tags) == '{"x": 1}'
    assert pd.DataFrame([m.model_dump() for m in messages]).shape == (1, 3)
    assert pd.DataFrame(chat.tags, index=[0]).shape == (1, 1)


def test_copies_are_plain_and_mutable() -> None:
    chat = _filled()
    deep = copy.deepcopy(chat.messages)
    assert type(deep) is list
    assert type(deep[0]) is Msg
    assert type(deep[0].tags) is list
    deep[0].tags.append("b")
    shallow = list(chat.messages)
    shallow.append(Msg(text="x"))
    assert type(copy.copy(chat.tags)) is dict
    assert type(chat.seen.copy()) is set
    edited = chat.messages[0].model_copy(update={"text": "new"})
    assert type(edited) is Msg
    edited.text = "ok"
    restored = pickle.loads(pickle.dumps(chat.messages))
    assert restored == chat.messages
    assert type(restored) is list
    assert type(restored[0]) is Msg
    assert len(chat.messages) == 1


def test_reads_do_not_copy() -> None:
    chat = _filled()
    assert chat.messages is chat.messages


def test_a_numpy_field_is_read_only() -> None:
    class Series(SharedState):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        values: np.ndarray = Field(default_factory=lambda: np.zeros(3))

    series = Series.get()
    with pytest.raises(ValueError, match="read-only"):
        series.values[0] = 1.0
    mine = np.arange(3.0)
    series.values = mine
    mine[0] = 9.0
    assert series.values.tolist() == [0.0, 1.0, 2.0]
    with series.mutate("values") as values:
        values[0] = 5.0
    assert series.values.tolist() == [5.0, 1.0, 2.0]


def test_a_dataframe_field_has_no_read_only_form() -> None:
    """Documented: a DataFrame is stored as it is; assigning it back counts as a change."""

    class Table(SharedState):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        frame: pd.DataFrame = Field(default_factory=lambda: pd.DataFrame({"a": [1]}))

    table = Table.get()
    frame = table.frame
    frame.loc[0, "a"] = 2  # not refused: pandas has no read-only frame
    assert table.frame.loc[0, "a"] == 2
    with table.mutate("frame") as draft:
        draft.loc[0, "a"] = 3
    assert table.frame.loc[0, "a"] == 3


def test_a_model_edited_in_a_mutate_block_is_validated_again() -> None:
    chat = _filled()
    with (
        pytest.raises(ValidationError, match="at most 5 characters"),
        chat.mutate("messages") as messages,
    ):
        messages[0].text = "far too long"  # Msg itself does not validate assignment
    assert chat.messages[0].text == "hi"


def test_an_edited_copy_of_a_model_is_validated_again() -> None:
    chat = _filled()
    copy_ = chat.messages[0].model_copy()
    copy_.text = "far too long"
    with pytest.raises(ValidationError):
        chat.messages = [copy_]
    with pytest.raises(ValidationError):
        chat.latest = copy_
    assert chat.messages[0].text == "hi"


def test_a_subclass_instance_keeps_its_class() -> None:
    class Loud(Msg):
        volume: int = 11

    chat = Chat.get()
    chat.latest = Loud(text="hey")
    assert isinstance(chat.latest, Loud)
    assert chat.latest.volume == 11


class Tallies(SharedState):
    counts: collections.Counter[str] = Field(default_factory=collections.Counter)
    order: collections.OrderedDict[str, int] = Field(default_factory=collections.OrderedDict)
    groups: collections.defaultdict[str, list[int]] = Field(
        default_factory=lambda: collections.defaultdict(list)
    )
    recent: collections.deque[int] = Field(default_factory=lambda: collections.deque(maxlen=3))
    items: list[int] = Field(default_factory=list)


def test_counters_ordered_and_default_dicts_and_deques_stay_what_they_are() -> None:
    """They were read back as plain read-only dicts (most_common() AttributeError,
    dd["x"] KeyError), and a deque field could be changed in place."""
    tallies = Tallies.get()
    tallies.update(
        counts=collections.Counter("hello"),
        order=collections.OrderedDict([("b", 1), ("a", 2)]),
        groups=collections.defaultdict(list, {"x": [1]}),
        recent=collections.deque([1, 2, 3], maxlen=3),
    )
    assert tallies.counts.most_common(1) == [("l", 2)]
    assert list(tallies.order) == ["b", "a"]
    assert tallies.groups["missing"] == []  # the default, not stored
    assert "missing" not in tallies.groups
    assert tallies.recent.maxlen == 3
    assert isinstance(tallies.counts, collections.Counter)
    assert isinstance(tallies.order, collections.OrderedDict)
    assert isinstance(tallies.groups, collections.defaultdict)
    refused = {
        "subtract": lambda: tallies.counts.subtract("h"),
        "counter update": lambda: tallies.counts.update("z"),
        "move_to_end": lambda: tallies.order.move_to_end("b"),
        "ordered setitem": lambda: tallies.order.__setitem__("c", 3),
        "default setitem": lambda: tallies.groups.__setitem__("y", []),
        "deque append": lambda: tallies.recent.append(4),
        "deque rotate": lambda: tallies.recent.rotate(1),
        "re-init": lambda: tallies.items.__init__([9]),
    }
    for name, change in refused.items():
        with pytest.raises(ReadOnlyValueError):
            change()
        assert name  # each one refused
    assert list(tallies.recent) == [1, 2, 3]
    assert tallies.items == []
    with tallies.mutate("recent") as recent:  # the draft is a plain deque
        recent.append(4)
    assert list(tallies.recent) == [2, 3, 4]
    assert copy.copy(tallies.counts) == collections.Counter("hello")
    assert type(copy.deepcopy(tallies.groups)) is collections.defaultdict


@dataclasses.dataclass
class Point:
    x: int
    tags: list[str] = dataclasses.field(default_factory=list)


@pydantic_dataclass
class Checked:
    x: int


class Shapes(SharedState):
    point: Point = Field(default_factory=lambda: Point(1))
    checked: Checked = Field(default_factory=lambda: Checked(2))


def test_dataclass_values_are_read_only_and_still_their_class() -> None:
    """state.checked.x = "not-an-int" stored an invalid value: dataclasses had no
    read-only form."""
    shapes = Shapes.get()
    with pytest.raises(ReadOnlyValueError, match=r"Shapes\.checked is read-only \(cannot set \.x"):
        shapes.checked.x = "not-an-int"  # type: ignore[assignment]
    with pytest.raises(ReadOnlyValueError):
        shapes.point.tags.append("a")
    assert isinstance(shapes.point, Point)
    assert shapes.point == Point(1)
    assert Point(1) == shapes.point
    plain = copy.copy(shapes.point)
    plain.x = 9  # a copy is a plain, mutable Point
    assert shapes.point.x == 1
    assert pickle.loads(pickle.dumps(shapes.point)) == Point(1)
    with shapes.mutate("point") as point:
        point.x = 7
    assert shapes.point == Point(7)
    version = shapes.version("point")
    shapes.point = Point(7)  # equal: no change
    assert shapes.version("point") == version
