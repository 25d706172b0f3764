"""Item operations: append, set_item, del_item, in memory, on Redis and on SQLite.

Each validates only what it adds (where the field allows), checks the field's
length constraints, takes the field's lock, pushes like any write and counts as
one change; on Redis an append is one RPUSH (on SQLite, one row per item) and
reaches the other processes as just its items.
"""

from __future__ import annotations

import json
import threading
import warnings
from typing import TYPE_CHECKING

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tests.test_model import Harness
from tests.waits import wait_until
from typed_state import (
    DefinitionError,
    ReadOnlyValueError,
    SharedState,
    StateDroppedError,
    no_rerun,
    testing,
)
from typed_state._backends._base import Append
from typed_state._backends._codec import codec_for

if TYPE_CHECKING:
    from tests.stores import Store
    from typed_state._backends._shared import SharedBackend


class Msg(BaseModel):
    author: str
    text: str = Field(max_length=20)


class Feed(SharedState):
    messages: list[Msg] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=lambda: ["t"], min_length=1, max_length=3)
    scores: dict[str, int] = Field(default_factory=dict)
    count: int = 0


class Unique(SharedState):
    names: list[str] = Field(default_factory=list)

    @field_validator("names")
    @classmethod
    def no_duplicates(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("names must be unique")
        return names


class Balanced(SharedState):
    left: list[int] = Field(default_factory=list)
    right: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def at_most_one_apart(self) -> Balanced:
        if abs(len(self.left) - len(self.right)) > 1:
            raise ValueError("left and right must stay within one item")
        return self


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(monkeypatch)


# -- append -----------------------------------------------------------------------------


def test_append_validates_the_new_items_and_counts_one_change(harness: Harness) -> None:
    feed = Feed.get()
    harness.read_as("reader", feed, "messages")
    feed.append("messages", Msg(author="ann", text="hi"), {"author": "bo", "text": "yo"})
    assert feed.messages == [Msg(author="ann", text="hi"), Msg(author="bo", text="yo")]
    assert feed.version("messages") == 1
    assert harness.reruns("reader") == [None]


def test_a_bad_item_stores_nothing_and_is_located_in_the_field() -> None:
    feed = Feed.get()
    feed.append("messages", Msg(author="ann", text="one"), Msg(author="ann", text="two"))
    with pytest.raises(ValidationError) as caught:
        feed.append("messages", Msg(author="bo", text="ok"), {"author": "bo", "text": "x" * 21})
    (error,) = caught.value.errors()
    assert error["loc"] == ("messages", 3, "text")
    assert caught.value.title == "Feed"
    assert len(feed.messages) == 2
    assert feed.version("messages") == 1


def test_an_edited_model_instance_is_validated_again() -> None:
    feed = Feed.get()
    draft = Msg(author="ann", text="short")
    draft.text = "far too long for a message"
    with pytest.raises(ValidationError, match="at most 20 characters"):
        feed.append("messages", draft)
    assert feed.messages == []


def test_keep_last_trims_in_the_same_step(harness: Harness) -> None:
    feed = Feed.get()
    feed.append("messages", *(Msg(author="a", text=str(i)) for i in range(5)))
    feed.append("messages", Msg(author="a", text="5"), keep_last=3)
    assert [m.text for m in feed.messages] == ["3", "4", "5"]
    feed.append("messages", *(Msg(author="a", text=str(i)) for i in range(6, 10)), keep_last=2)
    assert [m.text for m in feed.messages] == ["8", "9"]
    assert feed.version("messages") == 3
    with pytest.raises(ValueError, match="keep_last is a number of items, at least 1, not 0"):
        feed.append("messages", Msg(author="a", text="x"), keep_last=0)


def test_the_fields_length_constraints_hold() -> None:
    feed = Feed.get()
    feed.append("tags", "a", "b")
    with pytest.raises(ValidationError, match="List should have at most 3 items"):
        feed.append("tags", "c", "d")
    assert feed.tags == ["t", "a", "b"]
    feed.append("tags", "c", "d", keep_last=3)  # trimmed first: fits
    assert feed.tags == ["b", "c", "d"]


def test_appended_values_are_read_only_and_old_reads_never_change() -> None:
    feed = Feed.get()
    before = feed.messages
    feed.append("messages", Msg(author="ann", text="hi"))
    assert before == []  # a value once read is a snapshot
    with pytest.raises(ReadOnlyValueError, match=r"Feed\.messages is read-only"):
        feed.messages.append(Msg(author="x", text="y"))
    with pytest.raises(ReadOnlyValueError):
        feed.messages[0].text = "changed"


def test_appending_nothing_changes_nothing(harness: Harness) -> None:
    feed = Feed.get()
    harness.read_as("reader", feed, "messages")
    feed.append("messages")
    assert feed.version("messages") == 0
    assert harness.reruns("reader") == []


def test_under_no_rerun_an_append_pushes_nobody(harness: Harness) -> None:
    feed = Feed.get()
    harness.read_as("reader", feed, "messages")
    with no_rerun:
        feed.append("messages", Msg(author="a", text="quiet"))
    assert harness.reruns("reader") == []
    assert len(feed.messages) == 1


def test_a_field_validator_sees_the_whole_value() -> None:
    unique = Unique.get()
    unique.append("names", "ann", "bo")
    with pytest.raises(ValidationError, match="names must be unique"):
        unique.append("names", "ann")
    assert unique.names == ["ann", "bo"]


def test_a_model_validator_sees_the_whole_model() -> None:
    scale = Balanced.get()
    scale.append("left", 1)
    with pytest.raises(ValidationError, match="within one item"):
        scale.append("left", 2)
    scale.append("right", 1)
    scale.append("left", 2)
    assert (scale.left, scale.right) == ([1, 2], [1])


def test_append_through_a_dropped_member_is_refused() -> None:
    room = Feed.get(key="r")
    room.count = 1
    Feed.drop("r")
    with pytest.raises(StateDroppedError):
        room.append("messages", Msg(author="a", text="b"))


def test_appends_from_threads_all_land() -> None:
    feed = Feed.get()

    def add(who: str) -> None:
        for i in range(200):
            feed.append("messages", Msg(author=who, text=str(i)))

    threads = [threading.Thread(target=add, args=(w,)) for w in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(feed.messages) == 600
    assert feed.version("messages") == 600


# -- set_item and del_item -----------------------------------------------------------------


def test_set_item_validates_key_and_value_and_skips_equal_values(harness: Harness) -> None:
    feed = Feed.get()
    harness.read_as("reader", feed, "scores")
    feed.set_item("scores", "alice", "3")  # coerced, as an assignment would
    assert feed.scores == {"alice": 3}
    assert harness.reruns("reader") == [None]
    harness.read_as("reader", feed, "scores")
    feed.set_item("scores", "alice", 3)  # equal: nothing stored, nobody re-run
    assert feed.version("scores") == 1
    assert harness.reruns("reader") == [None]
    with pytest.raises(ValidationError) as caught:
        feed.set_item("scores", "bob", "many")
    assert caught.value.errors()[0]["loc"] == ("scores", "bob")
    assert feed.scores == {"alice": 3}


def test_set_item_and_del_item_on_a_list_take_an_index() -> None:
    feed = Feed.get()
    feed.append("tags", "a", "b", keep_last=3)
    feed.set_item("tags", 2, "c")
    feed.set_item("tags", 0, "a")
    feed.set_item("tags", 1, "b")
    feed.set_item("tags", -1, "z")
    assert feed.tags == ["a", "b", "z"]
    feed.del_item("tags", 0)
    assert feed.tags == ["b", "z"]
    with pytest.raises(IndexError, match=r"Feed\.tags has 2 items: no index 5"):
        feed.del_item("tags", 5)
    with pytest.raises(TypeError, match="named by its int index"):
        feed.set_item("tags", "0", "x")
    feed.del_item("tags", 0)
    with pytest.raises(ValidationError, match="List should have at least 1 item"):
        feed.del_item("tags", 0)
    assert feed.tags == ["z"]


def test_del_item_of_a_missing_key_is_a_key_error() -> None:
    feed = Feed.get()
    feed.set_item("scores", "alice", 1)
    feed.del_item("scores", "alice")
    assert feed.scores == {}
    with pytest.raises(KeyError, match=r"Feed\.scores has no item 'bob'"):
        feed.del_item("scores", "bob")


def test_item_operations_on_other_fields_say_what_to_do() -> None:
    feed = Feed.get()
    with pytest.raises(TypeError, match=r"Feed\.count is declared as int: append\(\) works on"):
        feed.append("count", 1)
    with pytest.raises(TypeError, match=r"Feed\.scores is a dict: append\(\) works on list"):
        feed.append("scores", 1)
    with pytest.raises(AttributeError, match="Feed has no field 'mesages'"):
        feed.append("mesages", Msg(author="a", text="b"))


def test_the_item_methods_are_reserved_names() -> None:
    with (
        pytest.raises(DefinitionError, match="'append' is reserved"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # Pydantic's own "shadows an attribute"

        class Bad(SharedState):
            append: list[int] = []  # type: ignore[assignment]


# -- on the stores processes share (Redis, SQLite) ---------------------------------------

NS = Feed.__typed_state_namespace__


def test_an_append_stores_and_sends_only_its_items(
    store: Store, peer: SharedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed.get()
    feed.append("messages", *(Msg(author="a", text=str(i)) for i in range(100)))
    live = peer.load(NS, codec_for(Feed))
    assert live is not None
    assert len(live["messages"]) == 100
    fetched: list[list[str]] = []
    original = peer._fetch
    monkeypatch.setattr(
        peer,
        "_fetch",
        lambda ns, state, names, **kw: (fetched.append(names), original(ns, state, names, **kw)),
    )
    received: list[bytes | str] = []
    heard = peer._received
    monkeypatch.setattr(peer, "_received", lambda data: (received.append(data), heard(data)))
    for i in range(3):
        feed.append("messages", Msg(author="b", text=f"new {i}"))
    wait_until(lambda: len(live["messages"]) == 103)
    assert fetched == []  # applied from the messages: no read of the list
    assert [m.text for m in live["messages"][-3:]] == ["new 0", "new 1", "new 2"]
    assert store.items(NS, "messages") == 103  # a Redis list, rows in SQLite
    assert len(received) == 3
    assert all(len(data) < 300 for data in received)  # the item, not the list
    testing.reset()
    assert len(Feed.get().messages) == 103  # a fresh process reads the list


def test_keep_last_trims_the_list_everywhere(store: Store, peer: SharedBackend) -> None:
    feed = Feed.get()
    feed.append("messages", *(Msg(author="a", text=str(i)) for i in range(10)))
    live = peer.load(NS, codec_for(Feed))
    assert live is not None
    feed.append("messages", Msg(author="a", text="10"), Msg(author="a", text="11"), keep_last=4)
    wait_until(lambda: len(live["messages"]) == 4)
    assert [m.text for m in live["messages"]] == ["8", "9", "10", "11"]
    assert store.items(NS, "messages") == 4


def test_a_process_that_missed_an_append_fetches_the_field(peer: SharedBackend) -> None:
    feed = Feed.get()
    feed.append("messages", Msg(author="a", text="0"))
    live = peer.load(NS, codec_for(Feed))
    assert live is not None
    peer._namespaces[NS].changes["messages"] -= 1  # as if a message had been lost
    feed.append("messages", Msg(author="a", text="1"))
    wait_until(lambda: len(live["messages"]) == 2)
    assert peer.version(NS, "messages") == 2


def test_a_whole_write_after_appends_is_json_again(store: Store, peer: SharedBackend) -> None:
    feed = Feed.get()
    feed.append("messages", Msg(author="a", text="0"))
    feed.messages = [Msg(author="b", text="replaced")]
    assert store.items(NS, "messages") is None
    assert json.loads(store.stored(NS, "messages") or "")[0]["text"] == "replaced"
    live = peer.load(NS, codec_for(Feed))
    assert live is not None
    assert live["messages"] == [Msg(author="b", text="replaced")]
    feed.append("messages", Msg(author="c", text="again"))  # converted back to a list
    wait_until(lambda: len(live["messages"]) == 2)
    assert store.items(NS, "messages") == 2


def test_locked_appends_from_two_processes_all_land(peer: SharedBackend) -> None:
    feed = Feed.get()
    feed.append("messages", Msg(author="start", text="0"))
    codec = codec_for(Feed)
    peer.load(NS, codec)

    def from_other() -> None:
        lock = peer.lock(NS, "messages")
        for i in range(100):
            assert lock.acquire(5)
            try:
                old = peer._namespaces[NS].live["messages"]
                item = codec.freeze("messages", [Msg(author="other", text=str(i))])
                peer.append(NS, Append("messages", list(item), [*old, *item]), codec)
            finally:
                lock.release()

    thread = threading.Thread(target=from_other)
    thread.start()
    for i in range(100):
        feed.append("messages", Msg(author="here", text=str(i)))
    thread.join()
    wait_until(lambda: len(Feed.get().messages) == 201)
    assert feed.version("messages") == 201


def test_drop_deletes_the_items(store: Store) -> None:
    room = Feed.get(key="r")
    room.append("messages", Msg(author="a", text="hi"))  # the first write: the whole member
    room.append("messages", Msg(author="a", text="ho"))  # then a list
    assert store.items(f"{NS}[r]", "messages") == 2
    Feed.drop("r")
    assert store.items(f"{NS}[r]", "messages") is None
    assert store.count() == 0


def test_set_item_and_del_item_reach_the_other_processes(peer: SharedBackend) -> None:
    feed = Feed.get()
    live = peer.load(NS, codec_for(Feed))
    assert live is not None
    feed.set_item("scores", "alice", 3)
    feed.append("messages", Msg(author="a", text="0"), Msg(author="a", text="1"))
    feed.del_item("messages", 0)
    wait_until(lambda: live["scores"] == {"alice": 3} and len(live["messages"]) == 1)
    assert live["messages"][0].text == "1"
