"""The re-run engine with Streamlit's session layer replaced by fakes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import pytest

from tests.fakes import FakeSessions
from typed_state import _engine, _streamlit
from typed_state._engine import Engine

A = ("ns", "a")
B = ("ns", "b")


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> FakeSessions:
    fake = FakeSessions()
    monkeypatch.setattr(_engine._streamlit, "sessions", lambda: fake)
    return fake


@pytest.fixture
def engine() -> Engine:
    return Engine(min_interval=0.0)


def test_reader_is_rerun_writer_is_not(sessions: FakeSessions, engine: Engine) -> None:
    reader, writer = sessions.add("r"), sessions.add("w")
    engine.bind(reader.run(), A)
    engine.bind(writer.run(), A)
    engine.changed([A], writer="w")
    sessions.pump()
    assert reader.reruns == [None]
    assert writer.reruns == []


def test_session_not_reading_the_field_is_not_rerun(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), B)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == []


def test_subscriptions_are_those_of_the_latest_run(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    run = s.run()  # a new run that reads only B
    engine.bind(run, B)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == []
    engine.changed([B], writer=None)
    sessions.pump()
    assert s.reruns == [None]


def test_run_touching_state_without_reading_unbinds(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    engine.touch(s.run())  # e.g. the branch that read A is not taken any more
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == []


def test_pushed_run_that_reads_nothing_stops_the_pushes(
    sessions: FakeSessions, engine: Engine
) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == [None]
    # The pushed run ran and touched no state at all: the page shows none.
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == [None]
    assert engine.readers(A) == set()


def test_a_run_that_already_read_the_new_value_is_not_rerun(
    sessions: FakeSessions, engine: Engine
) -> None:
    s = sessions.add("s")
    s.settled = False
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    sessions.pump(rounds=1)
    engine.bind(s.run(), A)  # the session re-ran on its own and read the new value
    s.settled = True
    sessions.pump()
    assert s.reruns == []


def test_busy_session_is_pushed_once_it_settles(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    s.settled = False
    engine.changed([A], writer=None)
    sessions.pump(rounds=3)
    assert s.reruns == []
    s.settled = True
    sessions.pump()
    assert s.reruns == [None]


def test_burst_of_writes_is_coalesced_into_one_rerun(
    sessions: FakeSessions, engine: Engine
) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    for _ in range(100):
        engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == [None]


def test_reruns_are_spaced_by_min_interval(sessions: FakeSessions) -> None:
    engine = Engine(min_interval=0.25)
    s = sessions.add("s")
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    first = sessions.pump()
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    second = sessions.pump()
    assert first[0] == 0.0
    assert 0.2 < second[0] <= 0.25


def test_fragment_reader_gets_a_fragment_rerun(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    s.fragments.add("f1")
    run = s.run(fragment="f1")
    engine.bind(run, A)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == ["f1"]


def test_fragment_run_keeps_the_page_subscriptions(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    s.fragments.add("f1")
    engine.bind(s.run(), B)  # page body reads B
    engine.bind(s.run(new=False, fragment="f1"), A)  # fragment reads A
    engine.bind(s.run(fragment="f1", fragment_only=True), A)  # a fragment-only run
    engine.changed([B], writer=None)
    sessions.pump()
    assert s.reruns == [None]


def test_field_read_in_page_and_fragment_reruns_the_page(
    sessions: FakeSessions, engine: Engine
) -> None:
    s = sessions.add("s")
    s.fragments.add("f1")
    run = s.run()
    engine.bind(run, A)
    engine.bind(s.run(new=False, fragment="f1"), A)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == [None]


def test_vanished_fragment_is_not_rerun(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(fragment="gone"), A)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == []
    assert engine.readers(A) == set()


def test_closed_session_is_forgotten(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    del sessions.sessions["s"]
    engine.changed([A], writer=None)
    sessions.pump()
    assert engine.readers(A) == set()


def test_reads_in_callbacks_bind_nothing(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    engine.bind(s.run(callback=True), A)
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == []


def test_without_a_server_reruns_are_recorded(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    monkeypatch.setattr(_engine._streamlit, "sessions", lambda: None)
    fake = FakeSessions().add("test session id")
    engine.bind(fake.run(), A)
    engine.changed([A], writer=None)
    records = engine.take_recorded()
    assert [(r.session_id, r.fragment_id) for r in records] == [("test session id", None)]
    assert engine.take_recorded() == []


def test_field_read_before_and_after_a_write_in_one_run_still_reruns(
    sessions: FakeSessions, engine: Engine
) -> None:
    # The run showed the old value before reading the new one: it is stale.
    s = sessions.add("s")
    run = s.run()
    engine.bind(run, A)
    engine.changed([A], writer="w")
    engine.bind(run, A)
    sessions.pump()
    assert s.reruns == [None]


def test_rereading_a_bound_field_keeps_the_binding(sessions: FakeSessions, engine: Engine) -> None:
    s = sessions.add("s")
    run = s.run()
    for _ in range(3):
        engine.bind(run, A)  # the lock-free fast path after the first
    assert engine.readers(A) == {"s"}
    engine.changed([A], writer=None)
    sessions.pump()
    assert s.reruns == [None]


def test_a_write_in_a_run_hands_its_pushes_to_the_loop(
    sessions: FakeSessions, engine: Engine
) -> None:
    s = sessions.add("s")
    engine.bind(s.run(), A)
    engine.changed([A], writer="w")
    assert sessions.handoff_waits == [_engine._HANDOFF]
    sessions.pump()
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)  # a thread of the app's own: nothing to wait for
    assert sessions.handoff_waits == [_engine._HANDOFF, 0.0]


class SpyEvent(threading.Event):
    waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        SpyEvent.waits.append(timeout)
        return super().wait(timeout)


def test_run_soon_waits_for_the_loop_except_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(_streamlit.threading, "Event", SpyEvent)
    SpyEvent.waits = []
    try:
        sessions = _streamlit.Sessions(cast(Any, None), loop)
        ran: list[str] = []
        # From another thread: returns once the callback has run on the loop.
        assert sessions.run_soon(lambda: ran.append("off"), wait=30)
        assert ran == ["off"]
        assert SpyEvent.waits == [30]

        # On the loop's own thread: must not wait for itself.
        async def on_loop() -> list[str]:
            sessions.run_soon(lambda: ran.append("on"), wait=30)
            return list(ran)

        seen = asyncio.run_coroutine_threadsafe(on_loop(), loop).result(timeout=30)
        assert seen == ["off"]  # run_soon returned before its callback could run
        assert SpyEvent.waits == [30]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def test_many_dirty_sessions_are_started_one_loop_turn_each(
    sessions: FakeSessions, engine: Engine
) -> None:
    # Starting every re-run in one loop callback kept the loop from sending
    # anything until the last one had started (fan-out to 50 took 2 s, not 1).
    readers = [sessions.add(f"r{i}") for i in range(3)]
    for reader in readers:
        engine.bind(reader.run(), A)
    engine.changed([A], writer="w")
    sessions.pump(rounds=1)
    assert sum(len(r.reruns) for r in readers) == 1
    sessions.pump()
    assert [r.reruns for r in readers] == [[None], [None], [None]]
