"""Members of a family that come and go: stored from their first write, listed
by a binding ``keys()``, dropped, expired by ``typed_state_ttl`` and
``typed_state_max_keys``; in memory and, across processes, on Redis and SQLite.

Time is a fake clock moved by the tests, never a sleep.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_model import Harness
from tests.waits import wait_until
from typed_state import (
    DefinitionError,
    SharedState,
    StateConfig,
    StateDroppedError,
    _clock,
    _members,
)
from typed_state._backends._base import Expiry
from typed_state._backends._codec import codec_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.stores import Store
    from typed_state._backends._shared import SharedBackend


class Room(SharedState):
    model_config = StateConfig(typed_state_ttl=60)
    topic: str = ""
    count: int = 0


class Slot(SharedState):
    model_config = StateConfig(typed_state_max_keys=2)
    owner: str = ""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Iterator[Clock]:
    fake = Clock()
    previous = _clock.use_clock(fake)
    yield fake
    _clock.use_clock(previous)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(monkeypatch)


def read_keys_as(harness: Harness, session_id: str, cls: type[SharedState]) -> list[str]:
    harness.as_session(session_id)
    try:
        return cls.keys()
    finally:
        harness.outside()


# -- existence and keys() ---------------------------------------------------------------


def test_a_member_exists_from_its_first_write(harness: Harness) -> None:
    room = Room.get(key="justlooking")
    assert (room.topic, room.count) == ("", 0)
    assert Room.keys() == []
    room.topic = "hello"
    assert Room.keys() == ["justlooking"]
    assert Room.get(key="justlooking").topic == "hello"


def test_keys_bind_the_session_to_creations_and_drops(harness: Harness) -> None:
    assert read_keys_as(harness, "lobby", Room) == []
    Room.get(key="a")  # read only: nothing is created
    assert harness.reruns("lobby") == []
    Room.get(key="a").topic = "first"
    assert harness.reruns("lobby") == [None]
    assert read_keys_as(harness, "lobby", Room) == ["a"]
    Room.get(key="a").topic = "second"  # an existing member changed: the list did not
    assert harness.reruns("lobby") == [None]
    assert Room.drop("a") is True
    assert harness.reruns("lobby") == [None, None]


def test_the_dropping_session_is_rerun_too(harness: Harness) -> None:
    room = Room.get(key="r")
    room.count = 1
    harness.as_session("dropper")
    assert room.count == 1
    Room.drop("r")  # from the session's own run, e.g. a "Delete room" button
    harness.outside()
    harness.read_as("other", Room.get(key="s"), "count")
    assert harness.reruns("dropper") == [None]


def test_a_write_through_a_dropped_member_names_the_call_to_make() -> None:
    room = Room.get(key="y2")
    room.count = 1
    Room.drop("y2")
    with pytest.raises(StateDroppedError, match=r"call Room\.get\(key='y2'\) again") as caught:
        room.count = 2
    assert (caught.value.state, caught.value.key) == ("Room", "y2")
    fresh = Room.get(key="y2")
    assert fresh is not room
    assert fresh.count == 0
    assert Room.keys() == []  # the refused write brought nothing back


# -- ttl and max_keys ------------------------------------------------------------------


def test_an_idle_member_expires_after_its_ttl(harness: Harness, clock: Clock) -> None:
    old = Room.get(key="old")
    old.topic = "stale"
    clock.advance(30)
    Room.get(key="fresh").topic = "new"
    harness.read_as("lobby", Room.get(key="lobby"), "count")
    read_keys_as(harness, "lobby", Room)
    clock.advance(31)  # "old" idle 61 s, "fresh" 31 s
    assert Room.keys() == ["fresh"]
    assert harness.reruns("lobby") == [None]  # the list changed
    with pytest.raises(StateDroppedError):
        old.topic = "again"
    assert Room.get(key="old").topic == ""  # starts from the defaults


def test_a_read_is_a_use_that_keeps_a_member(clock: Clock) -> None:
    Room.get(key="r").topic = "kept"
    for _ in range(4):
        clock.advance(40)
        assert Room.get(key="r").topic == "kept"  # a page showing it, every 40 s
    assert Room.keys() == ["r"]


def test_a_member_a_live_session_shows_never_expires(harness: Harness, clock: Clock) -> None:
    Room.get(key="watched").topic = "on screen"
    Room.get(key="left").topic = "closed tab"
    harness.read_as("viewer", Room.get(key="watched"), "topic")
    harness.read_as("gone", Room.get(key="left"), "topic")
    del harness.sessions.sessions["gone"]  # the tab was closed
    clock.advance(3600)
    assert Room.keys() == ["watched"]
    assert Room.get(key="watched").topic == "on screen"


def test_past_max_keys_the_least_recently_used_member_goes(clock: Clock) -> None:
    Slot.get(key="a").owner = "ann"
    clock.advance(1)
    Slot.get(key="b").owner = "bob"
    clock.advance(2)
    Slot.get(key="a")  # used again: "b" is now the least recently used
    clock.advance(2)
    Slot.get(key="c").owner = "cy"
    assert Slot.keys() == ["a", "c"]
    assert Slot.get(key="b").owner == ""


def test_without_lifecycle_settings_members_stay(clock: Clock) -> None:
    class Plain(SharedState):
        n: int = 0

    for key in "abc":
        Plain.get(key=key).n = 1
    clock.advance(10**9)
    assert Plain.keys() == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"typed_state_ttl": 0}, "typed_state_ttl is a number of seconds above 0, not 0"),
        ({"typed_state_ttl": "1h"}, "typed_state_ttl is a number of seconds above 0, not '1h'"),
        ({"typed_state_max_keys": 0}, "typed_state_max_keys is a whole number"),
        ({"typed_state_max_keys": 2.5}, "typed_state_max_keys is a whole number"),
    ],
)
def test_bad_lifecycle_settings_are_refused_when_the_class_is_made(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):

        class Bad(SharedState):
            model_config = StateConfig(**config)
            n: int = 0


# -- across processes, on Redis and SQLite ---------------------------------------------

NS = Room.__typed_state_namespace__


def test_reading_a_member_stores_nothing_and_a_write_stores_it_whole(
    store: Store, peer: SharedBackend
) -> None:
    Room.get(key="justlooking")
    assert store.count() == 0
    Room.get(key="r").count = 1
    assert store.stored(f"{NS}[r]", "count") == "1"
    assert json.loads(store.stored(f"{NS}[r]", "topic") or "") == ""  # with the first write
    live = peer.load(f"{NS}[r]", codec_for(Room))
    assert live is not None
    assert (live["count"], live["topic"]) == (1, "")


def test_across_processes_keys_readers_rerun_when_another_process_creates_or_drops(
    harness: Harness, peer: SharedBackend
) -> None:
    read_keys_as(harness, "lobby", Room)
    codec = codec_for(Room)
    namespace = f"{NS}[elsewhere]"
    peer.attach(namespace, {"topic": "", "count": 0}, codec)
    assert peer.save(namespace, {"topic": "made there"}, codec) is True
    wait_until(lambda: bool(harness.reruns("lobby")))
    assert Room.keys() == ["elsewhere"]
    assert peer.save(namespace, {"topic": "again"}, codec) is False  # not a creation
    read_keys_as(harness, "lobby", Room)
    peer.delete(namespace)
    wait_until(lambda: harness.reruns("lobby") == [None, None])
    assert Room.keys() == []


def test_across_processes_a_member_dropped_elsewhere_is_fresh_here(
    harness: Harness, peer: SharedBackend
) -> None:
    room = Room.get(key="r")
    room.topic = "before"
    harness.read_as("reader", room, "topic")
    peer.delete(f"{NS}[r]")
    wait_until(lambda: harness.reruns("reader") == [None])
    with pytest.raises(StateDroppedError):
        room.topic = "through the old instance"
    assert Room.get(key="r").topic == ""


def test_across_processes_expiry_holds_across_processes(
    harness: Harness, clock: Clock, peer: SharedBackend
) -> None:
    watched, idle = Room.get(key="watched"), Room.get(key="idle")
    watched.topic, idle.topic = "shown here", "nobody"
    harness.read_as("viewer", watched, "topic")
    harness.read_as("passer-by", idle, "topic")
    harness.read_as("passer-by", watched, "count")  # navigated on: reads only "watched" now
    clock.advance(50)
    _members.family_for(Room, _members.url_of(Room)).heartbeat()  # this process's beat
    clock.advance(20)
    # Another process sweeps: its own sessions read neither member.
    dropped = peer.expire(NS, Expiry(idle_since=clock.now - 60))
    assert dropped == [f"{NS}[idle]"]
    wait_until(lambda: Room.get(key="idle") is not idle)  # heard of it: a fresh member
    with pytest.raises(StateDroppedError):
        idle.topic = "through the expired instance"
    assert Room.keys() == ["watched"]


def test_across_processes_max_keys_counts_every_process_s_members(
    clock: Clock, peer: SharedBackend
) -> None:
    codec = codec_for(Slot)
    family = Slot.__typed_state_namespace__
    for key in ("a", "b"):
        peer.attach(f"{family}[{key}]", {"owner": ""}, codec)
        peer.save(f"{family}[{key}]", {"owner": key}, codec)
        clock.advance(1)
    Slot.get(key="c").owner = "here"
    assert Slot.keys() == ["b", "c"]


def test_visiting_keys_keeps_no_memory_for_ever(harness: Harness) -> None:
    """Members never written are not stored, but each get(key=) kept ~2 kB in the
    process: 50,000 visits kept 100 MB.  Visited members nobody shows are forgotten
    past VISITED_KEPT; written ones and shown ones stay."""
    import gc
    import tracemalloc

    from typed_state import _members

    Room.get(key="written").topic = "kept"
    harness.read_as("watcher", Room.get(key="shown"), "topic")
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(4 * _members.VISITED_KEPT):
            _ = Room.get(key=f"visitor-{i}").topic
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        for i in range(4 * _members.VISITED_KEPT, 12 * _members.VISITED_KEPT):
            _ = Room.get(key=f"visitor-{i}").topic
        gc.collect()
        later, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(_members.slots()) <= _members.VISITED_KEPT + 2
    assert later - first < 200_000, f"{later - first} bytes more after 4,000 more visits"
    assert Room.get(key="written").topic == "kept"
    assert "shown" in {slot.key for _, slot in _members.slots()}
    assert Room.keys() == ["written"]
