"""Fields named by selectors (``lambda c: c.count``), Version, and batch(): at run time."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

from typed_state import (
    DefinitionError,
    FieldNameError,
    SharedState,
    StaleWriteError,
    _selectors,
    testing,
)


class Item(BaseModel):
    name: str


class Board(SharedState):
    count: int = Field(0, ge=0)
    title: str = "board"
    items: list[Item] = Field(default_factory=list)
    scores: dict[str, int] = Field(default_factory=dict)


class Ranged(SharedState):
    lo: int = 0
    hi: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> Ranged:
        if self.lo > self.hi:
            raise ValueError("lo must not exceed hi")
        return self


class Room(Board):
    topic: str = ""


def test_every_method_takes_a_selector_as_its_string_form_does() -> None:
    board = Board.get()
    with board.lock(lambda b: b.count):
        board.count += 1
    board.append(lambda b: b.items, Item(name="a"), Item(name="b"), keep_last=1)
    board.set_item(lambda b: b.scores, "ann", 3)
    board.set_item(lambda b: b.items, 0, Item(name="z"))
    with board.mutate(lambda b: b.scores) as scores:
        scores["bob"] = 4
    board.del_item(lambda b: b.scores, "ann")
    assert (board.count, [i.name for i in board.items], board.scores) == (1, ["z"], {"bob": 4})
    assert board.version(lambda b: b.items) == board.version("items") == 2
    board.notify(lambda b: (b.count, b.title))


CALLS: list[int] = []


def _count(b: Board) -> object:
    CALLS.append(1)
    return b.count


def test_a_selector_is_resolved_once_per_code_object() -> None:
    _selectors.reset()
    CALLS.clear()
    for _ in range(3):
        assert _selectors.one(_count) == "count"
    assert len(CALLS) == 1
    # A page run again makes a new lambda of the same code: resolved once too.
    makers = [eval("lambda b: b.title") for _ in range(2)]
    assert [_selectors.one(m) for m in makers] == ["title", "title"]


def test_a_closure_is_resolved_each_time_since_it_may_name_another_field() -> None:
    def by_name(name: str) -> object:
        return lambda b: getattr(b, name)

    assert _selectors.one(by_name("count")) == "count"  # type: ignore[arg-type]
    assert _selectors.one(by_name("title")) == "title"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "selector",
    [lambda b: b.count + 1, lambda b: b.items[0], lambda b: len(b.title), lambda b: 3],
    ids=["arithmetic", "an item", "a call", "a constant"],
)
def test_anything_but_a_field_read_is_a_clear_error(selector: object) -> None:
    with pytest.raises(TypeError, match="a selector reads fields and nothing else"):
        Board.get().lock(selector)  # type: ignore[arg-type]


def test_a_misspelt_or_foreign_field_is_a_field_name_error() -> None:
    with pytest.raises(FieldNameError, match="Board has no field 'topic'"):
        Board.get().notify(lambda b: b.topic)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="names several fields"):
        Board.get().append(lambda b: (b.items, b.title), Item(name="x"))  # type: ignore[arg-type]


def test_a_family_member_and_a_subclass_take_selectors() -> None:
    room = Room.get(key="r1")
    room.append(lambda r: r.items, Item(name="hi"))
    room.topic = "news"
    with room.lock(lambda r: r.topic):
        room.topic += "!"
    assert ([i.name for i in room.items], room.topic) == (["hi"], "news!")
    assert Room.keys() == ["r1"]


def test_a_version_knows_its_field() -> None:
    board = Board.get()
    seen = board.version(lambda b: b.count)
    assert isinstance(seen, int)
    assert (seen, seen.field, f"{seen}", repr(seen)) == (
        0,
        "count",
        "0",
        "Version(0, field='count')",
    )
    assert pickle.loads(pickle.dumps(seen)).field == "count"
    board.update(count=1, if_versions=seen)
    with pytest.raises(StaleWriteError):
        board.update(count=2, if_versions=seen)  # count moved on
    title = board.version(lambda b: b.title)
    board.update(count=2, if_versions=[board.version(lambda b: b.count), title])
    with pytest.raises(TypeError, match="if_versions is a mapping"):
        board.update(count=3, if_versions=[1])  # type: ignore[list-item]
    assert board.count == 2


def test_batch_stores_its_assignments_as_one_update() -> None:
    board = Board.get()
    with board.batch() as new:
        new.count = 3
        new.title = new.title + "!"  # reads see the block's assignments, else the state
        assert (new.count, new.title) == (3, "board!")
        assert board.count == 0  # nothing stored yet
    assert (board.count, board.title) == (3, "board!")
    assert (board.version("count"), board.version("title")) == (1, 1)


def test_batch_stores_nothing_when_the_block_fails_or_a_value_does_not_validate() -> None:
    board = Board.get()
    with pytest.raises(RuntimeError), board.batch() as new:
        new.count = 5
        raise RuntimeError("changed my mind")
    assert board.count == 0
    with pytest.raises(ValidationError), board.batch() as new:
        new.title = "ok"
        new.count = -1
    assert (board.count, board.title) == (0, "board")  # all or nothing
    with pytest.raises(FieldNameError), board.batch() as new:
        new.cont = 1  # type: ignore[attr-defined]


def test_batch_validates_together_and_checks_versions() -> None:
    ranged = Ranged.get()
    seen = ranged.version(lambda r: r.hi)
    with ranged.batch(if_versions=seen) as new:  # lo=20 alone would break lo <= hi
        new.hi = 30
        new.lo = 20
    assert (ranged.lo, ranged.hi) == (20, 30)
    with pytest.raises(StaleWriteError), ranged.batch(if_versions=seen) as new:
        new.hi = 40
    assert ranged.hi == 30


def test_a_field_named_like_a_keyword_of_update_is_refused() -> None:
    """update(timeout=5.0) set the lock's timeout, and the field stayed as it was."""
    with pytest.raises(DefinitionError, match="'timeout' is reserved"):

        class Job(SharedState):
            timeout: float = 1.0


def teardown_function() -> None:
    testing.reset()
