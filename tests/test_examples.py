"""The demo's pages run cleanly: no exception, no warning, no deprecation (as errors)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.harness import RELEASE
from typed_state import testing

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAGES = sorted((EXAMPLES / "views").glob("*.py"))


@pytest.fixture(autouse=True)
def _examples_on_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    # Streamlit shows its deprecation warnings in the page only with "full" details.
    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield
    config.set_option("client.showErrorDetails", before)
    sys.path.remove(str(EXAMPLES))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("page", [EXAMPLES / "app.py", *PAGES], ids=lambda p: p.stem)
def test_page_runs_without_warnings(page: Path, caplog: pytest.LogCaptureFixture) -> None:
    at = AppTest.from_file(str(page), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]
    assert not at.error, [e.value for e in at.error]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in logged if "deprecat" in m.lower()], logged


def test_the_table_recipe_keeps_the_editors_data_and_says_the_table_changed() -> None:
    from states import Row, Table  # type: ignore[import-not-found]

    at = AppTest.from_file(str(EXAMPLES / "views" / "table.py")).run()
    assert not at.warning
    Table.get().rows = [Row(item="plums", qty=9)]  # somebody else saves
    at.run()
    assert [w.value for w in at.warning] == [
        "Somebody saved a newer version of this table while you were editing it."
    ]
    assert at.session_state["table_base"][0].item == "apples"  # the editor's data kept
    next(b for b in at.button if b.label.startswith("Load their version")).click().run()
    assert not at.warning
    assert at.session_state["table_base"] == [Row(item="plums", qty=9)]


@pytest.mark.skipif(
    RELEASE < (1, 66),
    reason="Streamlit before 1.66 (seen on 1.50, 1.58 and 1.62, in a page without typed_state) "
    "drops an st.data_editor's edits under AppTest when an element appears above it",
)
def test_the_table_recipe_keeps_unsaved_edits_and_validates_on_save() -> None:
    """The recipe's Save overwrote a newer save even while its warning was shown, showed
    a raw traceback for some input, and refused a new row whose blank cells have
    defaults.  Save is a conditional write now, with "Overwrite with mine" offered."""
    from states import Row, Table  # type: ignore[import-not-found]

    def click(label: str) -> None:
        next(b for b in at.button if b.label == label).click()
        testing.run(at)

    def edit(**changes: object) -> None:
        at.session_state["table_editor"] = {
            "edited_rows": {},
            "added_rows": [],
            "deleted_rows": [],
            **changes,
        }
        at.run()

    at = AppTest.from_file(str(EXAMPLES / "views" / "table.py")).run()
    edit(edited_rows={0: {"qty": 5}})  # this user's unsaved edit
    Table.get().rows = [Row(item="apples", qty=3), Row(item="figs", qty=2)]  # another saves
    at.run()
    assert at.warning  # told, and the edit is still there
    assert at.session_state["table_editor"]["edited_rows"] == {0: {"qty": 5}}
    click("Save")
    assert "Somebody saved a newer version first: nothing was saved." in [
        w.value for w in at.warning
    ]
    assert Table.get().rows == [Row(item="apples", qty=3), Row(item="figs", qty=2)]
    click("Overwrite with mine")
    assert Table.get().rows == [Row(item="apples", qty=5), Row(item="pears", qty=1)]
    assert [s.value for s in at.success] == ["Saved."]  # seen after the catch-up run
    assert not at.warning
    edit(edited_rows={1: {"qty": -1}})
    click("Save")
    assert [e.value for e in at.error] == [
        "Not saved: row 1, qty: Input should be greater than or equal to 0"
    ]
    assert not at.exception
    assert Table.get().rows == [Row(item="apples", qty=5), Row(item="pears", qty=1)]
    edit(added_rows=[{"item": "kiwi", "qty": None}])  # a new row, qty left blank
    click("Save")
    assert Table.get().rows[-1] == Row(item="kiwi", qty=1)  # the field's default
    edit(added_rows=[{"item": None, "qty": 2}])
    click("Save")
    assert [e.value for e in at.error] == ["Not saved: row 3, item: Field required"]
