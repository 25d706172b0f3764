"""The inspector page under AppTest: what it shows, editing, and its write log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from streamlit.testing.v1 import AppTest

from typed_state import _journal, _members

if TYPE_CHECKING:
    from tests.stores import Store

APP = Path(__file__).parent / "apps" / "inspector_app.py"


@pytest.fixture
def at() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30).run()


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_it_shows_every_state_its_fields_and_members(at: AppTest) -> None:
    assert not at.exception
    shown = " ".join(markdown(at))
    assert "`count`: `int` · version 0" in shown
    assert "`items`: `list[int]` · version 0" in shown
    assert "`label`: `str` · version 1 · last write" in shown
    labels = [e.label for e in at.expander]
    assert any("Shelf['top']" in label for label in labels)
    assert any("Stock" in label and "3 fields" in label for label in labels)
    # 120 items: by pages of 50, the last page first.
    (pager,) = [n for n in at.number_input if n.label.startswith("items: page")]
    assert pager.value == 3
    # A Log too, by pages (it is not a list): a long one is never drawn whole.
    assert "`events`: `Log[int]` · version 0" in shown
    (pager,) = [n for n in at.number_input if n.label.startswith("events: page")]
    assert pager.value == 2
    assert any(json.loads(j.value) == list(range(50, 70)) for j in at.json)


def test_values_are_drawn_as_json_the_browser_can_show(at: AppTest) -> None:
    """st.json draws only objects and arrays: a bare 0, "books" or true once showed
    "src property must be a valid json object" in the browser (AppTest does not)."""
    for element in at.json:
        assert isinstance(json.loads(element.value), list | dict), element.value
    assert {"0", '"books"'} <= {c.value for c in at.code}


def choose(at: AppTest, state: str, field: str) -> None:
    at.selectbox(key="_ts_edit_state").select(state).run()
    (fields,) = [s for s in at.selectbox if s.label == "Field"]
    fields.select(field).run()


def set_value(at: AppTest, state: str, field: str, text: str) -> AppTest:
    choose(at, state, field)
    (area,) = [t for t in at.text_area if t.label == "New value (JSON)"]
    area.input(text).run()
    at.button(key="_ts_set").click().run()
    assert any(state in w.value for w in at.warning)  # asks first
    return at.button(key="_ts_confirm").click().run()


def stored(title: str, field: str) -> object:
    """The value the state holds (the app's classes live in its script)."""
    (slot,) = [slot for _, slot in _members.slots() if slot.title == title]
    return slot.values[field]


def test_a_field_is_set_from_json_after_a_confirmation(at: AppTest) -> None:
    set_value(at, "Stock", "count", "7")
    assert [s.value for s in at.success] == ["Stock.count is set."]
    assert stored("Stock", "count") == 7
    write = _journal.writes()[0]
    assert (write.title, write.field, write.writer, write.before, write.after) == (
        "Stock",
        "count",
        _journal.SESSION,
        0,
        7,
    )


def test_a_value_that_does_not_validate_changes_nothing(at: AppTest) -> None:
    set_value(at, "Stock", "count", "-1")
    (error,) = at.error
    assert "Stock.count was not changed" in error.value
    assert "greater than or equal to 0" in error.value
    assert stored("Stock", "count") == 0


def test_text_that_is_not_json_is_refused_before_asking(at: AppTest) -> None:
    choose(at, "Stock", "count")
    (area,) = [t for t in at.text_area if t.label == "New value (JSON)"]
    area.input("seven").run()
    at.button(key="_ts_set").click().run()
    (error,) = at.error
    assert error.value.startswith("Not JSON:")
    assert not at.warning  # no question to confirm broken JSON
    assert stored("Stock", "count") == 0


def test_the_question_goes_once_answered(at: AppTest) -> None:
    set_value(at, "Stock", "count", "4")
    assert not at.warning
    assert [s.value for s in at.success] == ["Stock.count is set."]
    at.run()  # the outcome shows once
    assert not at.success


def test_cancel_changes_nothing(at: AppTest) -> None:
    choose(at, "Stock", "count")
    (area,) = [t for t in at.text_area if t.label == "New value (JSON)"]
    area.input("5").run()
    at.button(key="_ts_set").click().run()
    at.button(key="_ts_cancel").click().run()
    assert not at.warning
    assert stored("Stock", "count") == 0


def test_a_member_is_dropped_after_a_confirmation(at: AppTest) -> None:
    at.selectbox(key="_ts_edit_state").select("Shelf['top']").run()
    (before,) = [slot for _, slot in _members.slots() if slot.title == "Shelf['top']"]
    at.button(key="_ts_drop").click().run()
    at.button(key="_ts_confirm").click().run()
    assert [s.value for s in at.success] == ["Dropped Shelf['top']."]
    assert before.dropped  # the page's own write then starts a fresh member
    assert [s for _, s in _members.slots() if s.title == "Shelf['top']"] != [before]


def test_it_lists_the_members_other_processes_stored(store: Store) -> None:
    from typed_state import SharedState
    from typed_state._backends._codec import codec_for
    from typed_state._inspector import _states

    class Crate(SharedState):
        label: str = ""

    Crate.get(key="here").label = "local"
    other = store.new()  # another process
    try:
        namespace = f"{Crate.__typed_state_namespace__}[far]"
        other.attach(namespace, {"label": ""}, codec_for(Crate))
        other.save(namespace, {"label": "stored elsewhere"}, codec_for(Crate))
    finally:
        other.close()
    shown = {slot.title: slot.values["label"] for slot in _states("Crate")}
    assert shown == {"Crate['far']": "stored elsewhere", "Crate['here']": "local"}
    assert Crate.keys() == ["far", "here"]  # looking did not use or change anything


def test_the_write_log_keeps_small_values_and_only_the_size_of_big_ones() -> None:
    """100 writes of a 20 MB string kept 2,000 MB alive through the log; 100 appends
    to a 1M-item list ~500 MB."""
    import gc
    import tracemalloc

    from pydantic import BaseModel

    from typed_state import SharedState

    class Item(BaseModel):
        name: str

    class Blob(SharedState):
        text: str = ""
        n: int = 0
        tags: list[str] = []
        items: list[Item] = []

    blob = Blob.get()
    blob.n = 1
    blob.tags = ["a", "b"]
    blob.items = [Item(name="x")]
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for i in range(30):
            blob.text = str(i) * 1_000_000  # 1-2 MB each
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held - start < 5_000_000, f"{(held - start) / 1e6:.1f} MB held"
    shown = {(w.field, repr(w.after)) for w in _journal.writes()}
    assert ("n", "1") in shown  # small values as they are
    assert ("tags", "['a', 'b']") in shown
    assert ("text", "<str of 2,000,000 characters>") in shown
    assert ("items", "<list of 1 item>") in shown  # models: their type and count


def test_a_big_value_is_sent_in_part_and_an_unsendable_one_escaped() -> None:
    """A 3 MB value was sent on every 1 s refresh; a lone surrogate ("\\ud800") showed
    a raw traceback."""
    at = AppTest.from_file(str(Path(__file__).parent / "apps" / "inspector_big.py")).run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert max(len(c) for c in codes) <= 20_000
    assert any("\\\\ud800 lone surrogate" in c or "\\ud800 lone surrogate" in c for c in codes)
