"""Presence: how many sessions show a state, who, and re-runs when that changes.

Driven through real reads with a fake server (tests/fakes.py); the tick that
sees runs end and sessions leave is run by ``harness.sessions.pump()``.
"""

from __future__ import annotations

import pytest

from tests.test_model import Harness
from typed_state import SharedState


class Room(SharedState):
    topic: str = ""
    count: int = 0


class Other(SharedState):
    n: int = 0


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(monkeypatch)


def view(harness: Harness, session_id: str, key: str = "r1") -> None:
    """A run of ``session_id`` showing room ``key`` (a get() and a field read)."""
    harness.read_as(session_id, Room.get(key=key), "topic")


def watch(harness: Harness, session_id: str, key: str = "r1") -> int:
    """A run of ``session_id`` that shows room ``key`` and how many are in it."""
    harness.as_session(session_id)
    try:
        room = Room.get(key=key)
        _ = room.topic
        return room.presence()
    finally:
        harness.outside()


def test_every_session_showing_a_state_counts_once(harness: Harness) -> None:
    view(harness, "ann")
    view(harness, "bob")
    harness.as_session("bob")  # bob reads several fields in one run: still one
    room = Room.get(key="r1")
    _ = room.topic, room.count
    harness.outside()
    view(harness, "cy", key="r2")
    assert watch(harness, "dee") == 3  # ann, bob and dee herself
    assert Room.get(key="r2").presence() == 1


def test_a_closed_tab_leaves_and_the_watchers_re_run(harness: Harness) -> None:
    view(harness, "ann")
    view(harness, "bob")
    assert watch(harness, "watcher") == 3
    harness.sessions.pump()
    del harness.sessions.sessions["bob"]  # bob closed the tab
    assert harness.reruns("watcher") == [None]
    assert watch(harness, "watcher") == 2


def test_a_session_that_goes_to_another_page_leaves(harness: Harness) -> None:
    view(harness, "ann")
    assert watch(harness, "watcher") == 2
    harness.sessions.sessions["ann"].page = "other-page-hash"  # the browser asked for another page
    harness.sessions.pump()
    assert harness.reruns("watcher") == [None]
    assert watch(harness, "watcher") == 1


def test_a_first_load_under_navigation_counts_steadily(harness: Harness) -> None:
    # Under st.navigation the browser's first request names no page (""), and Streamlit
    # sets the page it runs only once the run has started: the session looked as if it
    # had left, so the watchers (itself included) re-ran, and again when it came back:
    # three runs per page load.
    ann = harness.sessions.add("ann")
    ann.run_page = "room-hash"
    ann.settled = False
    assert watch(harness, "ann") == 1
    harness.sessions.pump()
    ann.page = "room-hash"  # Streamlit has started the run on that page
    ann.settled = True
    harness.sessions.pump()
    assert harness.reruns("ann") == []
    assert watch(harness, "watcher") == 2
    harness.sessions.pump()
    ann.page = "elsewhere-hash"  # and now ann does go elsewhere
    harness.sessions.pump()
    assert harness.reruns("watcher") == [None]


def test_a_run_that_stops_using_the_state_leaves_once_it_ended(harness: Harness) -> None:
    view(harness, "ann")
    assert watch(harness, "watcher") == 2
    ann = harness.sessions.sessions["ann"]
    ann.settled = False  # ann's page re-runs; this run reads another state only
    harness.read_as("ann", Other.get(), "n")
    harness.sessions.pump()
    assert harness.reruns("watcher") == []  # still running: no flicker
    assert watch(harness, "watcher") == 2
    ann.settled = True  # the run ended without showing the room
    harness.sessions.pump()
    assert harness.reruns("watcher") == [None]
    assert watch(harness, "watcher") == 1


def test_re_running_sessions_never_make_the_count_flicker(harness: Harness) -> None:
    view(harness, "ann")
    assert watch(harness, "watcher") == 2
    for _ in range(3):
        view(harness, "ann")  # ann's page re-runs, showing the room each time
        harness.sessions.pump()
    assert harness.reruns("watcher") == []


def test_labels_are_what_sessions_said_and_nothing_else(harness: Harness) -> None:
    harness.as_session("ann")
    Room.get(key="r1").present_as("Ann")
    harness.outside()
    view(harness, "anonymous")
    harness.as_session("watcher")
    room = Room.get(key="r1")
    room.present_as("Wat")
    assert room.present() == ["Ann", "Wat"]
    assert room.presence() == 3
    harness.outside()
    with pytest.raises(ValueError, match="a presence label is a str of 1 to 100 characters"):
        room.present_as("")


def test_presence_by_key_is_a_lobby(harness: Harness) -> None:
    view(harness, "ann", key="a")
    view(harness, "bob", key="a")
    view(harness, "cy", key="b")
    harness.as_session("lobby")
    assert Room.presence_by_key() == {"a": 2, "b": 1}
    harness.outside()
    harness.sessions.pump()
    del harness.sessions.sessions["cy"]
    harness.sessions.pump()
    assert harness.reruns("lobby") == [None]
    harness.as_session("lobby")
    assert Room.presence_by_key() == {"a": 2}
    harness.outside()


def test_presence_works_without_a_server() -> None:
    room = Room.get(key="r1")
    assert room.presence() == 0  # a script or a test: nobody is looking
    assert room.present() == []
