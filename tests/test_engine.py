"""The re-run engine with Streamlit's session layer replaced by fakes."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, cast

import pytest

from tests.fakes import FakeSession, FakeSessions
from typed_state import _engine, _streamlit
from typed_state._engine import Engine, RerunRecord

A = ("ns", "a")
B = ("ns", "b")


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


@pytest.fixture
def engine(sessions: FakeSessions) -> Engine:
    return Engine(min_interval=0.0, sessions=lambda: sessions, clock=sessions.clock)


def test_reader_is_rerun_writer_after_a_callback_is_not(
    sessions: FakeSessions, engine: Engine
) -> None:
    reader, writer = sessions.add("r"), sessions.add("w")
    engine.bind(reader.run(), A)
    engine.bind(writer.run(), A)
    engine.changed([A], writer=writer.run(callback=True))  # a button's on_click
    engine.bind(writer.run(new=False), A)  # the body of that run reads the new value
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
    engine.touch(s.run(), "ns")  # e.g. the branch that read A is not taken any more
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
    engine = Engine(min_interval=0.25, sessions=lambda: sessions, clock=sessions.clock)
    s = sessions.add("s")
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    first = sessions.pump()
    sessions.now += 0.1
    engine.bind(s.run(), A)
    engine.changed([A], writer=None)
    second = sessions.pump()
    assert first[0] == 0.0
    assert second[0] == pytest.approx(0.15)


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


def test_without_a_server_reruns_are_recorded() -> None:
    engine = Engine(min_interval=0.0, sessions=lambda: None)
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
    engine.changed([A], writer=sessions.add("w").run())
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
    engine.changed([A], writer=sessions.add("w").run())
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


def test_a_batch_of_pushes_holds_each_started_run_at_its_first_read(
    sessions: FakeSessions, engine: Engine
) -> None:
    # Pushes went out one per loop turn: each started run could finish, with
    # Streamlit's end-of-run collection, before the loop started the next, so
    # no two collections coalesced (0.87 full collections per run at 50
    # readers, 0.75 with every push out before any pushed run reads).
    readers = [sessions.add(f"r{i}") for i in range(3)]
    for reader in readers:
        engine.bind(reader.run(), A)
    order: list[str] = []
    started: list[threading.Thread] = []

    def start_run(reader: FakeSession, fragment_id: str | None) -> None:
        # Streamlit's request_rerun starts the run's thread and returns.
        reader.reruns.append(fragment_id)
        order.append(f"push {reader.session_id}")
        run = reader.run()

        def script() -> None:
            engine.bind(run, A)
            order.append(f"read {reader.session_id}")

        thread = threading.Thread(target=script)
        started.append(thread)
        thread.start()
        thread.join(timeout=0.05)  # it would have read by now without the gate

    for reader in readers:
        reader.rerun = functools.partial(start_run, reader)  # type: ignore[method-assign]
    engine.changed([A], writer=sessions.add("w").run())
    sessions.pump(rounds=1)  # one loop callback sends every push
    for thread in started:
        thread.join(timeout=30)
    assert sorted(order[:3]) == ["push r0", "push r1", "push r2"]
    assert sorted(order[3:]) == ["read r0", "read r1", "read r2"]


def test_a_run_that_is_not_pushed_passes_the_gate_when_no_batch_goes_out(
    sessions: FakeSessions, engine: Engine
) -> None:
    reader = sessions.add("r")
    engine.bind(reader.run(), A)  # would block for ever if the gate were left closed
    engine.changed([A], writer=None)
    sessions.pump()
    engine.bind(reader.run(), A)
    assert engine.readers(A) == {"r"}


# -- the writer's own write: catch-up runs -------------------------------------------


def test_a_write_below_the_display_gives_the_writer_one_catch_up_run(
    sessions: FakeSessions, engine: Engine
) -> None:
    writer = sessions.add("w")
    run = writer.run()
    engine.bind(run, A)  # st.write(state.a)
    engine.changed([A], writer=run)  # if st.button(...): state.a += 1
    sessions.pump()
    assert writer.reruns == [None]
    engine.bind(writer.run(), A)  # the catch-up run shows the new value
    sessions.pump()
    assert writer.reruns == [None]


def test_a_write_above_the_display_needs_no_catch_up(
    sessions: FakeSessions, engine: Engine
) -> None:
    writer = sessions.add("w")
    run = writer.run()
    engine.changed([A], writer=run)
    engine.bind(run, A)
    sessions.pump()
    assert writer.reruns == []


def test_a_fragment_callback_catches_up_the_page_body(
    sessions: FakeSessions, engine: Engine
) -> None:
    writer = sessions.add("w")
    writer.fragments.add("f")
    engine.bind(writer.run(), A)  # the body shows len(notes)
    engine.bind(writer.run(new=False, fragment="f"), A)
    click = writer.run(fragment="f", fragment_only=True, callback=True)
    engine.changed([A], writer=click)  # on_click in the fragment
    engine.bind(writer.run(new=False, fragment="f", fragment_only=True), A)
    sessions.pump()
    assert writer.reruns == [None]  # the whole page: the body drew the old value


def test_a_field_shown_only_in_a_fragment_catches_up_only_that_fragment(
    sessions: FakeSessions, engine: Engine
) -> None:
    writer = sessions.add("w")
    writer.fragments.add("f")
    run = writer.run()
    engine.bind(writer.run(new=False, fragment="f"), A)  # the fragment drew A
    engine.changed([A], writer=run)  # the page body below it writes A
    sessions.pump()
    assert writer.reruns == ["f"]


def test_a_catch_up_runs_own_write_schedules_no_other(
    sessions: FakeSessions, engine: Engine
) -> None:
    writer = sessions.add("w")
    for action in range(2):  # a page that reads A and writes it on every run
        run = writer.run()  # the user's action
        engine.bind(run, A)
        engine.changed([A], writer=run)
        sessions.pump()
        assert writer.reruns == [None] * (action + 1)
        catch_up = writer.run()
        engine.bind(catch_up, A)
        engine.changed([A], writer=catch_up)
        sessions.pump()
        assert writer.reruns == [None] * (action + 1)  # 2 runs per action, no more


def test_notify_re_runs_the_others_not_the_caller(sessions: FakeSessions, engine: Engine) -> None:
    caller, other = sessions.add("w"), sessions.add("o")
    run = caller.run()
    engine.bind(run, A)
    engine.bind(other.run(), A)
    engine.changed([A], writer=run, catch_up=False)  # notify()
    sessions.pump()
    assert caller.reruns == []
    assert other.reruns == [None]


def test_under_apptest_the_writers_catch_up_is_recorded_once_its_run_ended() -> None:
    # Under AppTest the writer got no catch-up and none was recorded: the README's
    # counter showed 0 after its "+1" click, where a browser shows 1.
    engine = Engine(min_interval=0.0, sessions=lambda: None)
    session = FakeSessions().add("test session id")
    run = session.run()
    engine.bind(run, A)  # the page drew the value...
    engine.changed([A], writer=run)  # ...then its button wrote it
    assert engine.take_recorded() == [RerunRecord("test session id", None)]
    catch_up = session.run()
    engine.bind(catch_up, A)
    engine.changed([A], writer=catch_up)  # a catch-up run's write catches nobody up
    assert engine.take_recorded() == []


def test_under_apptest_a_callbacks_write_needs_no_catch_up() -> None:
    engine = Engine(min_interval=0.0, sessions=lambda: None)
    session = FakeSessions().add("test session id")
    engine.bind(session.run(), A)
    click = session.run(callback=True)
    engine.changed([A], writer=click)  # the callback writes before the body runs
    engine.bind(session.run(new=False), A)  # the body reads the new value
    assert engine.take_recorded() == []


def test_sessions_writing_in_every_pushed_run_are_reported_once(
    sessions: FakeSessions, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.name("ns", "Knob")
    a, b = sessions.add("a"), sessions.add("b")
    for s in (a, b):
        engine.bind(s.run(), A)
    click = a.run(callback=True)  # the first move is the user's
    engine.changed([A], writer=click)
    engine.bind(a.run(new=False), A)
    seen = {"a": 0, "b": 0}
    for _ in range(_engine._ECHO_ROUNDS + 5):
        sessions.pump()
        for s in (a, b):
            if len(s.reruns) > seen[s.session_id]:  # pushed: the run writes its widget back
                seen[s.session_id] = len(s.reruns)
                run = s.run()
                engine.bind(run, A)
                engine.changed([A], writer=run)
    warnings = [r for r in caplog.records if "re-running each other" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "Knob.a has been written 20 times in a row" in message
    assert "st.slider(..., **state.widget('a'))" in message


def test_writes_made_by_users_are_no_echo(
    sessions: FakeSessions, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = sessions.add("a"), sessions.add("b")
    for s in (a, b):
        engine.bind(s.run(), A)
    for _ in range(_engine._ECHO_ROUNDS + 5):
        run = a.run(callback=True)  # every write comes from a click
        engine.changed([A], writer=run)
        engine.bind(a.run(new=False), A)
        sessions.pump()
        engine.bind(b.run(), A)
    assert not [r for r in caplog.records if "re-running each other" in r.getMessage()]


def test_a_push_to_many_sessions_goes_out_in_waves(sessions: FakeSessions, engine: Engine) -> None:
    """200 runs started at once each paid ~3 ms of Streamlit's end-of-run collection,
    which walks the temporaries of every run in flight: at most ``_WAVE`` runs go at
    once, the next as earlier ones settle, and a run slower than ``_WAVE_PATIENCE`` (a
    page waiting on the network) holds nobody back."""
    wave = _engine._WAVE
    readers = [sessions.add(f"r{i}") for i in range(2 * wave + 3)]
    for reader in readers:
        engine.bind(reader.run(), A)

    def started() -> list[FakeSession]:
        return [r for r in readers if r.reruns]

    def run_and_settle(done: list[FakeSession]) -> None:
        for reader in done:
            reader.settled = True

    original = FakeSession.rerun

    def rerun(self: FakeSession, fragment_id: str | None) -> None:
        original(self, fragment_id)
        self.settled = False  # its run is queued: Streamlit says so at once

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeSession, "rerun", rerun)
        engine.changed([A], writer=None)
        sessions.pump(rounds=1)
        assert len(started()) == wave
        sessions.pump(rounds=3)  # nothing settled: the rest wait
        assert len(started()) == wave
        run_and_settle(started()[:3])
        sessions.pump(rounds=1)
        assert len(started()) == wave + 3
        sessions.now += 2 * _engine._WAVE_PATIENCE  # the runs in flight take long
        sessions.pump(rounds=1)
        assert len(started()) == len(readers)  # a whole wave more: all of them
        assert sessions.scheduled == []  # nothing waits: the pump stopped
    assert all(r.reruns == [None] for r in readers)
