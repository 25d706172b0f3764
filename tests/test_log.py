"""``Log`` fields: ``append()`` adds the new items alone, and a value read earlier keeps
the items it had.

A ``list`` field's append copies the list (17 ms at 1,000,000 items, issue 41); a Log
is a view over a buffer that only grows, so the proof that an append does not copy
is structural: the new value shares the old one's buffer.
"""

from __future__ import annotations

import copy
import pickle
import threading
from typing import TYPE_CHECKING

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator
from streamlit.testing.v1 import AppTest

from tests.waits import wait_until
from typed_state import Log, ReadOnlyValueError, SharedState, testing
from typed_state._backends._codec import codec_for
from typed_state._log import _COMPACT_FROM, appended

if TYPE_CHECKING:
    from tests.stores import Store
    from typed_state._backends._shared import SharedBackend


class Msg(BaseModel):
    author: str
    text: str = Field(max_length=20)


class Chat(SharedState):
    history: Log[Msg] = Log()
    tags: Log[str] = Field(default_factory=Log, max_length=3)


class Unique(SharedState):
    names: Log[str] = Log()

    @field_validator("names")
    @classmethod
    def no_duplicates(cls, names: Log[str]) -> Log[str]:
        if len(set(names)) != len(names):
            raise ValueError("names must be unique")
        return names


NS = Chat.__typed_state_namespace__


def _texts(log: Log[Msg]) -> list[str]:
    return [m.text for m in log]


def test_an_append_shares_the_buffer_and_a_value_read_earlier_keeps_its_items() -> None:
    chat = Chat.get()
    chat.append(lambda c: c.history, *(Msg(author="a", text=str(i)) for i in range(3)))
    before = chat.history
    chat.append(lambda c: c.history, Msg(author="b", text="new"))
    after = chat.history
    assert type(after) is Log
    assert after._buffer is before._buffer  # the old items were not copied
    assert len(before) == 3
    assert _texts(before) == ["0", "1", "2"]
    assert [m.text for m in reversed(before)] == ["2", "1", "0"]
    assert before[-1].text == "2"
    assert [m.text for m in before[1:]] == ["1", "2"]
    with pytest.raises(IndexError):
        before[3]
    assert _texts(after) == ["0", "1", "2", "new"]
    assert chat.version(lambda c: c.history) == 2


def test_keep_last_moves_the_start_and_keeps_the_buffer_bounded() -> None:
    chat = Chat.get()
    for i in range(6 * _COMPACT_FROM):
        chat.append(lambda c: c.history, Msg(author="a", text=str(i)), keep_last=100)
    history = chat.history
    assert len(history) == 100
    assert history[0].text == str(6 * _COMPACT_FROM - 100)
    assert len(history._buffer.items) <= 2 * _COMPACT_FROM + 1  # dead items are dropped


def test_an_earlier_value_written_back_grows_apart_from_the_newer_one() -> None:
    chat = Chat.get()
    chat.append(lambda c: c.history, Msg(author="a", text="0"))
    old = chat.history
    chat.append(lambda c: c.history, Msg(author="a", text="newer"))
    newer = chat.history
    chat.history = old
    chat.append(lambda c: c.history, Msg(author="a", text="other"))
    assert _texts(chat.history) == ["0", "other"]
    assert _texts(newer) == ["0", "newer"]
    assert _texts(old) == ["0"]


def test_two_threads_appending_to_one_view_each_get_only_their_own_item() -> None:
    """A process's own append and another process's message may both extend the same
    value: only one may extend its buffer in place, the other copies."""
    for _ in range(200):
        base = Log(["x"])
        results: dict[str, Log[str]] = {}
        barrier = threading.Barrier(2)

        def add(
            item: str,
            base: Log[str] = base,
            results: dict[str, Log[str]] = results,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            results[item] = appended(base, [item], None)

        threads = [threading.Thread(target=add, args=(item,)) for item in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert list(results["a"]) == ["x", "a"]
        assert list(results["b"]) == ["x", "b"]
        assert list(base) == ["x"]


def test_a_log_is_a_list_to_pydantic_and_to_json() -> None:
    chat = Chat.get()
    chat.history = [Msg(author="a", text="hi")]  # type: ignore[assignment]  # validated into a Log
    assert type(chat.history) is Log
    assert chat.history == [Msg(author="a", text="hi")]
    assert [Msg(author="a", text="hi")] == chat.history
    assert chat.history == Log([Msg(author="a", text="hi")])
    assert chat.history != [Msg(author="a", text="other")]
    assert chat.model_dump()["history"] == [{"author": "a", "text": "hi"}]
    assert '"history":[{"author":"a","text":"hi"}]' in chat.model_dump_json()
    assert Chat.model_json_schema()["properties"]["history"]["type"] == "array"
    chat.tags = ("x", "y")  # type: ignore[assignment]  # any sequence a list field takes
    assert chat.tags == ["x", "y"]
    restored = pickle.loads(pickle.dumps(chat.history))
    assert type(restored) is Log
    assert restored == chat.history
    assert copy.copy(chat.history) is chat.history  # immutable, as a tuple
    plain = copy.deepcopy(chat.history)
    assert type(plain) is Log
    plain[0].text = "edited"  # a deep copy's items are plain
    assert chat.history[0].text == "hi"
    assert list(chat.history) == [Msg(author="a", text="hi")]
    with pytest.raises(TypeError, match="unhashable"):
        hash(chat.history)


def test_a_log_and_its_items_refuse_changes_in_place() -> None:
    chat = Chat.get()
    chat.append(lambda c: c.history, Msg(author="a", text="hi"))
    history = chat.history
    with pytest.raises(ReadOnlyValueError, match=r'Chat.history .* chat.append\("history", item\)'):
        history.append(Msg(author="b", text="x"))  # type: ignore[attr-defined]
    with pytest.raises(ReadOnlyValueError, match=r"Chat\.history"):
        history[0] = Msg(author="b", text="x")  # type: ignore[index]
    with pytest.raises(ReadOnlyValueError, match=r"Chat\.history"):
        history[0].text = "changed"
    with pytest.raises(TypeError, match="a Log is read-only"):
        Log(["a"]).append("b")  # type: ignore[attr-defined]
    assert _texts(chat.history) == ["hi"]


def test_item_operations_and_mutate_keep_a_log() -> None:
    chat = Chat.get()
    chat.append(lambda c: c.history, Msg(author="a", text="0"), Msg(author="a", text="1"))
    chat.set_item(lambda c: c.history, 0, Msg(author="b", text="zero"))
    assert type(chat.history) is Log
    assert _texts(chat.history) == ["zero", "1"]
    chat.del_item(lambda c: c.history, 0)
    assert type(chat.history) is Log
    assert _texts(chat.history) == ["1"]
    with chat.mutate(lambda c: c.history) as draft:
        assert type(draft) is list
        draft.append(Msg(author="c", text="2"))
    assert type(chat.history) is Log
    assert _texts(chat.history) == ["1", "2"]


def test_an_append_validates_its_items_and_the_length_and_stores_nothing_bad() -> None:
    chat = Chat.get()
    with pytest.raises(ValidationError, match="at most 20 characters"):
        chat.append(lambda c: c.history, Msg.model_construct(author="a", text="x" * 30))
    chat.append(lambda c: c.tags, "a", "b", "c")
    with pytest.raises(ValidationError, match="at most 3 items"):
        chat.append(lambda c: c.tags, "d")
    assert chat.tags == ["a", "b", "c"]
    assert chat.history == []


def test_a_field_validator_sees_the_whole_log() -> None:
    unique = Unique.get()
    unique.append("names", "a", "b")
    assert type(unique.names) is Log
    with pytest.raises(ValidationError, match="names must be unique"):
        unique.append("names", "a")
    assert unique.names == ["a", "b"]


def test_a_log_crosses_processes_as_its_new_items(store: Store, peer: SharedBackend) -> None:
    chat = Chat.get()
    chat.append(lambda c: c.history, *(Msg(author="a", text=str(i)) for i in range(5)))
    live = peer.load(NS, codec_for(Chat))
    assert live is not None
    seen = live["history"]
    assert type(seen) is Log
    chat.append(lambda c: c.history, Msg(author="b", text="5"), keep_last=4)
    wait_until(lambda: len(live["history"]) == 4 and live["history"][-1].text == "5")
    assert type(live["history"]) is Log
    assert live["history"]._buffer is seen._buffer  # applied from the message, not copied
    assert _texts(live["history"]) == ["2", "3", "4", "5"]
    assert len(seen) == 5  # what the other process had read is unchanged
    assert store.items(NS, "history") == 4
    testing.reset()  # a restart reads the stored items back as a Log
    restarted = Chat.get().history
    assert type(restarted) is Log
    assert _texts(restarted) == ["2", "3", "4", "5"]


PAGE = """
import streamlit as st
from pydantic import BaseModel
from typed_state import Log, SharedState

class Point(BaseModel):
    x: int
    y: int

class Plot(SharedState):
    points: Log[Point] = Log()
    values: Log[int] = Log()

plot = Plot.get()
plot.values = Log([3, 1, 2])
plot.points = Log([Point(x=1, y=2), Point(x=2, y=4)])
st.dataframe(plot.values)
st.table(plot.points)
st.line_chart(plot.values)
st.write(plot.points)
"""


def test_streamlit_draws_a_log_as_it_draws_a_list() -> None:
    """st.dataframe(state.values) raised "'Log' object has no attribute 'ndim'": pandas
    builds frames from lists and tuples, not from other sequences."""
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.dataframe[0].value[0].tolist() == [3, 1, 2]
    assert at.table[0].value["y"].tolist() == [2, 4]
    assert at.dataframe[1].value["x"].tolist() == [1, 2]  # st.write of a Log of models


WIDGET_PAGE = """
import streamlit as st
from typed_state import Log, SharedState

class Labels(SharedState):
    tags: Log[str] = Log(["a"])

labels = Labels.get()
st.multiselect("Tags", ["a", "b", "c"], **labels.widget(lambda s: s.tags))
st.text(f"{type(labels.tags).__name__} {list(labels.tags)}")
"""


def test_a_widget_bound_to_a_log_holds_a_list_and_writes_a_log() -> None:
    """The multiselect was handed the Log itself, which Streamlit edits as a list
    ("'Log' object has no attribute 'copy'")."""
    at = AppTest.from_string(WIDGET_PAGE, default_timeout=60).run()
    assert at.multiselect[0].value == ["a"]
    at.multiselect[0].select("b").run()
    assert not at.exception
    assert at.text[0].value == "Log ['a', 'b']"
