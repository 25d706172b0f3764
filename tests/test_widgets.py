"""Widgets bound to fields with SharedState.widget(): under AppTest and on real servers."""

from __future__ import annotations

import asyncio
import datetime
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.harness import RELEASE, StreamlitClient
from tests.test_server import Servers, run_servers, settled
from typed_state import testing
from typed_state._engine import _ECHO_ROUNDS

APPS = Path(__file__).parent / "apps"
PAGE = str(APPS / "widgets_page.py")


@pytest.fixture(autouse=True)
def _apps_on_path() -> Iterator[None]:
    sys.path.insert(0, str(APPS))
    yield
    sys.path.remove(str(APPS))


def knob():  # type: ignore[no-untyped-def]
    from widgets_state import Knob

    return Knob.get()


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("level="))


def test_widgets_show_the_shared_values() -> None:
    at = AppTest.from_file(PAGE).run()
    assert not at.exception
    assert at.slider[0].value == 3
    assert at.checkbox[0].value is False
    assert at.text_input[0].value == "ann"
    assert at.multiselect[0].value == []


def test_a_users_change_writes_the_field() -> None:
    at = AppTest.from_file(PAGE).run()
    at.slider[0].set_value(7).run()
    at.checkbox[0].check().run()
    at.text_input[0].input("bob").run()
    at.multiselect[0].select("b").run()
    assert not at.exception
    assert (knob().level, knob().done, knob().name, list(knob().tags)) == (7, True, "bob", ["b"])
    assert summary(at) == "level=7 done=True name=bob tags=b"
    assert at.toggle[0].value is True  # the other widget of the same field follows


def test_a_write_elsewhere_moves_the_widget_on_the_next_run() -> None:
    at = AppTest.from_file(PAGE).run()
    at.slider[0].set_value(5).run()
    thread = threading.Thread(target=lambda: knob().update(level=1, name="zed"))
    thread.start()
    thread.join()
    assert [r.session_id for r in testing.reruns()] == ["test session id"]
    at.run()
    assert at.slider[0].value == 1
    assert at.text_input[0].value == "zed"


def test_a_rejected_value_snaps_back_and_says_why_once() -> None:
    at = AppTest.from_file(PAGE).run()
    at.text_input[0].input("far too long").run()
    assert not at.exception
    assert knob().name == "ann"
    assert at.text_input[0].value == "ann"
    assert [t.value for t in at.toast] == ["Knob.name: String should have at most 5 characters"]
    at.slider[0].set_value(9).run()  # le=8
    assert knob().level == 3
    assert at.slider[0].value == 3
    at.run()
    assert list(at.toast) == []  # once


def test_no_write_without_a_users_change() -> None:
    at = AppTest.from_file(PAGE).run()
    testing.reruns()
    for _ in range(3):
        at.run()
    assert testing.reruns() == []
    assert knob().level == 3


# -- real servers: two sessions (one server, and two sharing Redis) -----------------------


@pytest.fixture(scope="module", params=["memory", "redis"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    yield from run_servers(request, tmp_path_factory, APPS / "widgets_page.py")


async def two_sessions(servers: Servers) -> tuple[StreamlitClient, StreamlitClient]:
    a = await StreamlitClient(servers.pick(None).ws_url).connect()
    b = await StreamlitClient(servers.pick(None).ws_url).connect()
    return a, b


def shown(client: StreamlitClient) -> dict[str, str]:
    line = next(t for t in client.texts() if t.startswith("level="))
    return dict(re.findall(r"(\w+)=(\S*)", line))


async def settle(servers: Servers, *clients: StreamlitClient) -> list[int]:
    """Wait until nothing more will happen (see test_server.settled); the runs each
    client saw from its last finished run on."""
    for client in clients:
        await client.wait_idle()
    before = [len(c.runs) for c in clients]
    await settled(servers, *clients)
    return [len(c.runs) - n for c, n in zip(clients, before, strict=True)]


@pytest.mark.server
@pytest.mark.parametrize(
    ("label", "field", "values"),
    [("level", "level", [6, 2]), ("done", "done", [True, False]), ("name", "name", ["eve", "al"])],
)
async def test_a_change_shows_in_the_other_session_and_nothing_loops(
    servers: Servers, label: str, field: str, values: list[object]
) -> None:
    a, b = await two_sessions(servers)
    for value in values:
        await a.set_widget(label, value)
        await b.wait_for(lambda v=value: shown(b)[field] == str(v) and not b.busy)
        assert b.widget_value(label) == value
        assert b.runs[-1].pushed
        assert a.widget_value(label) == value
        assert await settle(servers, a, b) == [0, 0]  # no loop, no extra run
    await a.close()
    await b.close()


@pytest.mark.server
async def test_simultaneous_moves_end_on_one_value_everywhere(servers: Servers) -> None:
    a, b = await two_sessions(servers)
    for first, second in ((1, 7), (4, 0), (8, 5)):
        await asyncio.gather(a.set_widget("level", first), b.set_widget("level", second))
        await settle(servers, a, b)
        final = int(shown(a)["level"])
        assert int(shown(b)["level"]) == final
        assert a.widget_value("level") == final
        assert b.widget_value("level") == final
        assert final in (first, second)
    await a.close()
    await b.close()


@pytest.mark.server
@pytest.mark.skipif(
    RELEASE < (1, 58),
    reason="before Streamlit 1.58 (seen on 1.50) a keyed widget whose value= changes is a new "
    "widget, so the write-back pattern does not loop and there is nothing to report",
)
async def test_the_naive_write_back_pattern_is_reported_once_naming_the_helper(
    servers: Servers,
) -> None:
    def reports() -> int:
        return sum(
            r.log.read_text().count("re-running each other")
            for r in servers.servers
            if r.log is not None
        )

    before = reports()
    a = await StreamlitClient(servers.pick(None).ws_url, query_string="naive=1").connect()
    b = await StreamlitClient(servers.pick(None).ws_url, query_string="naive=1").connect()
    await a.set_widget("naive", 7)
    await a.wait_for(lambda: reports() > before, timeout=30)
    rounds = len(a.runs) + len(b.runs)
    # The loop goes on, past the count that warned once more: no second warning.
    await a.wait_for(lambda: len(a.runs) + len(b.runs) >= rounds + 2 * _ECHO_ROUNDS, 30)
    await a.close()
    await b.close()
    assert reports() - before <= len(servers.servers)  # once per process at most
    logs = "".join(r.log.read_text() for r in servers.servers if r.log is not None)
    assert "Knob.level has been written" in logs
    assert "st.slider(..., **state.widget('level'))" in logs


ALL = str(APPS / "all_widgets_page.py")


@pytest.mark.skipif(
    RELEASE < (1, 58),
    reason="AppTest before Streamlit 1.58 (seen on 1.50) fails to send any widget's value "
    "while a single-choice st.segmented_control is on the page (its own bug); the real-server "
    "widget tests run there",
)
def test_every_kind_of_widget_writes_and_follows_its_field() -> None:
    at = AppTest.from_file(ALL).run()
    assert not at.exception
    at.select_slider[0].set_value("L").run()
    at.radio[0].set_value("blue").run()
    at.selectbox[0].set_value("square").run()
    at.number_input[0].set_value(4).run()
    at.text_area[0].input("hello").run()
    at.date_input[0].set_value(datetime.date(2026, 5, 6)).run()
    at.time_input[0].set_value(datetime.time(17, 30)).run()
    at.color_picker[0].set_value("#00ff00").run()
    at.toggle[0].set_value(True).run()
    at.pills[0].set_value("pear").run()
    at.segmented_control[0].set_value("b").run()
    assert not at.exception
    from widgets_state import Form  # type: ignore[import-not-found]

    stored = Form.get()
    assert (stored.size, stored.color, stored.shape, stored.qty, stored.notes) == (
        "L",
        "blue",
        "square",
        4,
        "hello",
    )
    assert (stored.day, stored.at, stored.paint, stored.on, stored.fruit, stored.mode) == (
        datetime.date(2026, 5, 6),
        datetime.time(17, 30),
        "#00ff00",
        True,
        "pear",
        "b",
    )
    stored.update(size="S", color="red", qty=2, day=datetime.date(2027, 1, 1), on=False)
    stored.update(fruit="apple", mode="a", notes="bye")
    at.run()
    assert at.pills[0].value == "apple"
    assert at.segmented_control[0].value == "a"
    assert at.text_area[0].value == "bye"
    assert at.select_slider[0].value == "S"
    assert at.radio[0].value == "red"
    assert at.number_input[0].value == 2
    assert at.date_input[0].value == datetime.date(2027, 1, 1)
    assert at.toggle[0].value is False


def test_a_change_to_a_widget_of_a_member_dropped_meanwhile_is_refused_gently() -> None:
    """A click right after a drop crashed the session with StateDroppedError from the
    widget's write-back (4 of 12 trials, for the dropper and for others)."""
    from typed_state import _members

    at = AppTest.from_file(str(APPS / "member_widget_page.py")).run()
    at.slider[0].set_value(4).run()
    (slot,) = [s for _, s in _members.slots() if s.title == "Dial['d1']"]
    assert slot.values["level"] == 4
    _members.drop(slot.cls, "d1")  # somebody drops the member
    at.slider[0].set_value(7).run()  # the widget was drawn before the drop
    assert not at.exception
    assert [t.value for t in at.toast] == [
        "Dial['d1'] was deleted meanwhile: your change was not saved."
    ]
    assert [m.value for m in at.markdown] == ["level=0"]  # the fresh member


# -- inside st.form --------------------------------------------------------------------------

FORM = str(APPS / "form_page.py")


def settings():  # type: ignore[no-untyped-def]
    from widgets_state import Settings

    return Settings.get()


def saved(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("saved:"))


def test_widgets_in_a_form_show_the_shared_values_and_pass_no_callback() -> None:
    """widget() passed on_change, which Streamlit forbids inside st.form: the page
    failed with StreamlitInvalidFormCallbackError."""
    at = AppTest.from_file(FORM).run()
    assert not at.exception
    assert (at.text_input[0].value, at.number_input[0].value) == ("room", 10)
    assert (at.selectbox[0].value, at.checkbox[0].value, at.slider[0].value) == ("M", False, 3)


def test_a_submission_writes_every_changed_field_as_one_update() -> None:
    at = AppTest.from_file(FORM).run()
    versions = {f: settings().version(f) for f in ("title", "public", "size", "level")}
    # AppTest sends a form's values with every run; a browser only with the submit
    # button's: edit and submit in one run, as a browser's submission arrives.
    at.text_input[0].input("")
    at.checkbox[0].check()
    # Together: a public room without a title breaks the model validator.
    at.button[0].click().run()
    assert not at.exception
    # Pydantic's "Value error, " and an empty location (": : ") were shown as they came.
    assert [t.value for t in at.toast] == ["Settings not saved: a public room needs a title"]
    assert (settings().title, settings().public) == ("room", False)  # nothing stored
    assert (at.text_input[0].value, at.checkbox[0].value) == ("", True)  # the input stays
    at.text_input[0].input("lobby")
    at.selectbox[0].select("L")
    at.slider[0].set_value(7)
    at.button[0].click().run()
    assert not at.exception
    assert "submitted" in [m.value for m in at.markdown]
    assert saved(at) == "saved: title=lobby max=10 size=L public=True level=7"
    assert {f: settings().version(f) - versions[f] for f in versions} == dict.fromkeys(versions, 1)


def test_a_rejected_submission_stores_nothing_and_says_why_once() -> None:
    at = AppTest.from_file(FORM).run()
    at.number_input[0].set_value(60)  # the widget allows 100, the field 50
    at.text_input[0].input("big")
    at.button[0].click().run()
    assert len(at.toast) == 1
    assert at.toast[0].value == (
        "Settings not saved: max_users: Input should be less than or equal to 50"
    )
    assert (settings().max_users, settings().title) == (10, "room")  # all or nothing
    at.run()  # another run: not written (nor said) again
    assert len(at.toast) == 0
    assert at.number_input[0].value == 60
    settings().level = 5  # somebody else's write: the form follows that field
    at.run()
    assert (at.slider[0].value, at.number_input[0].value) == (5, 60)


@pytest.fixture(scope="module", params=["memory", "redis"])
def form_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    yield from run_servers(request, tmp_path_factory, APPS / "form_page.py")


@pytest.mark.server
async def test_a_submitted_form_shows_in_the_other_session(form_servers: Servers) -> None:
    a = await StreamlitClient(form_servers.pick(None).ws_url).connect()
    b = await StreamlitClient(form_servers.pick(None).ws_url).connect()
    before = "saved: title=room max=10 size=M public=False level=3"
    assert before in b.texts()
    for label, value in (("title", "lobby"), ("max", 20), ("public", True), ("level", 7)):
        await a.set_widget(label, value, send=False)
    assert before in a.texts()  # nothing sent before the submit
    await a.click("Save")
    after = "saved: title=lobby max=20 size=M public=True level=7"
    await b.wait_for_text(after)
    assert b.runs[-1].pushed
    await a.wait_for_text(after)
    assert (b.widget_value("title"), b.widget_value("level")) == ("lobby", 7)  # followed
    assert await settle(form_servers, a, b) == [0, 0]  # no loop
    await a.close()
    await b.close()
