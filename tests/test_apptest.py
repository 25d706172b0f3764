"""typed_state under streamlit.testing.v1.AppTest: stores, validates, re-runs nobody."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apps.chat_state import Room
from typed_state import testing

APP = str(Path(__file__).parent / "apps" / "apptest_chat.py")


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def click(at: AppTest, label: str) -> AppTest:
    """Click the button with this label and run the app (labels, not positions)."""
    return next(b for b in at.button if b.label == label).click().run()


def test_state_is_stored_and_shared_between_apptests() -> None:
    first = AppTest.from_file(APP).run()
    assert not first.exception
    assert "count=0" in markdown(first)
    click(first, "inc")
    assert "count=1" in markdown(first)
    second = AppTest.from_file(APP).run()
    assert "count=1" in markdown(second)


def test_invalid_write_shows_the_error_and_keeps_the_value() -> None:
    at = AppTest.from_file(APP).run()
    click(at, "inc")
    click(at, "invalid")
    assert not at.exception
    assert at.error[0].value.startswith("rejected: Input should be greater than or equal to 0")
    assert "count=1" in markdown(at)


def test_mutate_in_the_script_body() -> None:
    at = AppTest.from_file(APP).run()
    at.text_input[0].input("hello").run()
    assert "me: hello" in markdown(at)


def test_worker_thread_write_in_the_run_shows_and_reruns_nobody() -> None:
    at = AppTest.from_file(APP).run()
    testing.reruns()
    click(at, "worker")
    assert "count=100" in markdown(at)
    # The worker wrote before this run read `count`: the run shows it already.
    assert testing.reruns() == []


def test_write_from_outside_the_session_records_the_rerun_it_would_push() -> None:
    at = AppTest.from_file(APP).run()
    testing.reruns()
    thread = threading.Thread(target=lambda: setattr(Room.get(), "count", 7))
    thread.start()
    thread.join()
    assert [r.session_id for r in testing.reruns()] == ["test session id"]
    assert testing.readers(Room.get(), "count") == {"test session id"}
    assert "count=7" in markdown(at.run())


def test_a_thread_given_the_sessions_context_writes_as_the_app_not_the_session() -> None:
    at = AppTest.from_file(APP).run()
    testing.reruns()
    click(at, "job")
    # The run drew count before the job wrote it: the session would be re-run.
    assert [r.session_id for r in testing.reruns()] == ["test session id"]
    assert "count=55" in markdown(at.run())


def test_own_write_in_a_callback_records_no_rerun() -> None:
    at = AppTest.from_file(APP).run()
    testing.reruns()
    click(at, "inc")
    assert testing.reruns() == []


def test_read_only_values_are_drawn_by_streamlit_and_refuse_edits() -> None:
    at = AppTest.from_file(str(Path(__file__).parent / "apps" / "readonly_display.py")).run()
    assert not at.exception
    assert [t.value for t in at.text] == ["2 messages, first by a"]
    assert at.dataframe[1].value.to_dict("records") == [
        {"author": "a", "text": "hi"},
        {"author": "b", "text": "yo"},
    ]
    # Drawn as Streamlit draws plain models (one row each since Streamlit 1.5x; before,
    # a column per field pair): whatever the release, read-only changes nothing.
    assert at.dataframe[0].value.equals(at.dataframe[2].value)
    assert at.json[0].value == at.json[-1].value
    assert at.error[0].value.startswith("Room.messages is read-only (cannot append to it)")
    assert len(Room.get().messages) == 2


PAGE_V1 = """
import streamlit as st
from pydantic import BaseModel, Field
from typed_state import SharedState

class Todo(BaseModel):
    text: str

class Todos(SharedState):
    items: list[Todo] = Field(default_factory=list)

todos = Todos.get()
if "seeded" not in st.session_state:
    st.session_state["seeded"] = True
    todos.items = [Todo(text="milk")]
st.markdown(f"{len(todos.items)} items")
"""


def test_a_schema_change_is_shown_in_the_page_that_caused_it(tmp_path: Path) -> None:
    import pytest

    page = tmp_path / "todos_page.py"
    page.write_text(PAGE_V1)
    at = AppTest.from_file(str(page)).run()
    assert markdown(at) == ["1 items"]
    page.write_text(PAGE_V1.replace("    text: str\n", "    text: str\n    prio: int\n"))
    with pytest.warns(Warning, match="0.prio: Field required"):
        at.run()
    assert markdown(at) == ["0 items"]
    assert any("reset to default: items (0.prio: Field required)" in w.value for w in at.warning)
    page.write_text(PAGE_V1)
    at.run()
    assert markdown(at) == ["1 items"]  # reverted: the item is back
    assert not at.warning  # shown once, by the run that caused it


NOTICE = str(Path(__file__).parent / "apps" / "notice_page.py")


def test_feedback_given_with_notice_survives_the_catch_up_run() -> None:
    """st.success after a write was never seen: the writer's catch-up run redraws the
    page without the click.  notice.success is drawn in that run too."""
    at = AppTest.from_file(NOTICE).run()
    at.button[0].click()
    testing.run(at)
    assert [m.value for m in at.markdown] == ["count=1"]  # the catch-up run's page
    assert [s.value for s in at.success] == ["Saved!"]
    assert [t.value for t in at.toast] == ["Saved"]
    at.run()  # the user's next action: seen, gone
    assert not at.success
    assert not at.toast


def test_plain_feedback_is_not_kept() -> None:
    at = AppTest.from_file(NOTICE).run()
    at.button[1].click()
    testing.run(at)
    assert [s.value for s in at.success] == ["plain feedback"]  # no write: no catch-up


def test_an_edited_state_module_is_said_once_in_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing an imported state module and reloading the page showed the old class,
    with nothing said: Streamlit loads an edited module again only when a session
    re-runs."""
    from typed_state import _edits

    module = tmp_path / "edited_states.py"
    module.write_text(
        "from typed_state import SharedState\n\nclass Notes(SharedState):\n    n: int = 0\n"
    )
    page = tmp_path / "page.py"
    page.write_text("import edited_states\n\nedited_states.Notes.get()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_edits, "_INTERVAL", 0.0)
    at = AppTest.from_file(str(page)).run()
    assert not at.warning
    later = module.stat().st_mtime_ns + 5_000_000_000
    os.utime(module, ns=(later, later))  # the developer saves an edit
    at.run()
    assert "edited_states (edited_states.py) changed on disk" in at.warning[0].value
    assert "press Rerun" in at.warning[0].value
    at.run()
    assert not at.warning  # said once
