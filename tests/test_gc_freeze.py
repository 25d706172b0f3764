"""The frozen heap: on by default in a server, off elsewhere, refrozen when due."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps.server_states import Counter
from tests.harness import StreamlitClient, StreamlitServer
from tests.waits import eventually
from typed_state import _gc
from typed_state._gc import Freezer, HeapState, due

APP = Path(__file__).parent / "apps" / "freeze_page.py"
SESSIONS = int(os.environ.get("TYPED_STATE_FREEZE_SESSIONS", "500"))


def rss_kb(server: StreamlitServer) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


def number(client: StreamlitClient, name: str) -> int:
    return next(int(t.split("=")[1]) for t in client.texts() if t.startswith(f"{name}="))


def frozen(client: StreamlitClient) -> int:
    return number(client, "frozen")


async def churn(server: StreamlitServer, count: int, batch: int = 25) -> None:
    for _ in range(count // batch):
        clients = await asyncio.gather(
            *(StreamlitClient(server.ws_url).connect() for _ in range(batch))
        )
        await asyncio.gather(*(client.close() for client in clients))


@pytest.mark.server
async def test_the_heap_is_frozen_by_default_and_sessions_leak_nothing(tmp_path: Path) -> None:
    with StreamlitServer(
        APP,
        # Closed sessions are kept 120 s by default: measure what stays after them.
        options={"server.disconnectedSessionTTL": "1"},
        log=tmp_path / "freeze.log",
    ) as server:
        first = await StreamlitClient(server.ws_url).connect()
        assert frozen(first) == 0

        async def looked(predicate: Callable[[StreamlitClient], bool]) -> bool:
            await first.rerun()
            await first.wait_idle()
            return predicate(first)

        # The freeze runs on the event loop once that run finished.
        await eventually(lambda: looked(lambda c: frozen(c) > 0), timeout=10)
        count = frozen(first)
        assert count > 10_000  # the server's heap: Streamlit, Pydantic, the app
        # Closed sessions are gone once Streamlit counts only `first` again.
        alone = lambda: looked(lambda c: number(c, "active") == 1)  # noqa: E731
        await churn(server, 100)  # warm-up: caches, pools and arenas reach their size
        await eventually(alone, timeout=30)
        before = rss_kb(server)
        await churn(server, SESSIONS)
        await eventually(alone, timeout=60)
        after = rss_kb(server)
        await first.rerun()
        await first.wait_idle()
        # Refrozen at most as sessions closed, never growing without bound.
        assert frozen(first) <= count * 2
        await first.close()
    print(f"RSS {before} -> {after} kB over {SESSIONS} sessions, {count} objects frozen")
    assert after - before <= 5 * 1024, f"RSS grew {after - before} kB over {SESSIONS} sessions"


@pytest.mark.server
async def test_turned_off_it_leaves_gc_alone(tmp_path: Path) -> None:
    with StreamlitServer(
        APP, env={"TYPED_STATE_GC_FREEZE": "0"}, log=tmp_path / "off.log"
    ) as server:
        client = await StreamlitClient(server.ws_url).connect()
        for _ in range(3):
            await client.rerun()
            await client.wait_idle()
        assert frozen(client) == 0
        await client.close()


# -- in this process (no server): nothing frozen unless asked ----------------------


@pytest.fixture
def thawed() -> Iterator[None]:
    """Whatever a test freezes is unfrozen after it: the rest of the suite runs normally."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_nothing_is_frozen_in_a_process_that_is_no_server(thawed: None) -> None:
    Counter.get().count = 1
    Counter.get()
    assert gc.get_freeze_count() == 0


def test_a_process_that_asks_is_frozen_once(thawed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from typed_state._config import settings

    monkeypatch.setenv("TYPED_STATE_GC_FREEZE", "1")
    settings.cache_clear()
    Counter.get()
    assert gc.get_freeze_count() > 0
    assert _gc.freezer().stats.freezes == 1
    Counter.get()
    assert _gc.freezer().stats.freezes == 1


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_refreeze_frees_cyclic_garbage_that_a_freeze_kept(thawed: None) -> None:
    freezer = Freezer(sessions=lambda: None)
    garbage = _Cycle()
    gone = weakref.ref(garbage)
    freezer.freeze()  # alive now: frozen
    del garbage
    gc.collect()
    assert gone() is not None  # a frozen cycle is never collected...
    freezer.freeze()
    assert gone() is None  # ...until the next refreeze
    assert freezer.stats.freezes == 2


class _Sessions:
    """The part of _streamlit.Sessions the freezer uses, driven by the test."""

    def __init__(self) -> None:
        self.live = {f"s{i}" for i in range(30)}
        self.busy = False
        self.scheduled: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool:
        self.scheduled.append((delay, callback))
        return True

    def quiet(self) -> bool:
        return not self.busy

    def alive(self) -> set[str]:
        return set(self.live)

    def step(self) -> float:
        """Run the one callback scheduled; the delay it was scheduled with."""
        ((delay, callback),) = self.scheduled
        self.scheduled.clear()
        callback()
        return delay


def test_the_freezer_waits_for_quiet_then_refreezes_when_sessions_close(thawed: None) -> None:
    sessions = _Sessions()
    now = [0.0]
    freezer = Freezer(sessions=lambda: sessions, clock=lambda: now[0])  # type: ignore[arg-type, return-value]
    sessions.call_later(0.1, freezer._check)
    sessions.busy = True
    assert sessions.step() == 0.1
    assert freezer.stats.freezes == 0  # runs going on: not now
    sessions.busy = False
    sessions.step()
    assert freezer.stats.freezes == 1  # quiet: the first freeze
    now[0] += 60
    sessions.step()
    assert freezer.stats.freezes == 1  # nothing closed, little made: not due
    sessions.live -= {f"s{i}" for i in range(_gc.CLOSED)}
    sessions.busy = True
    sessions.step()
    sessions.step()
    assert freezer.stats.freezes == 1  # due, but never in the middle of runs
    sessions.busy = False
    sessions.step()
    assert freezer.stats.freezes == 2
    assert sessions.scheduled[0][0] == _gc.CHECK_EVERY


@pytest.mark.parametrize(
    ("heap", "expected"),
    [
        (HeapState(since=5, then=100_000, now=500_000, closed=50), False),  # too soon
        (HeapState(since=30, then=100_000, now=110_000, closed=0), False),
        (HeapState(since=30, then=100_000, now=110_000, closed=_gc.CLOSED), True),
        (HeapState(since=30, then=100_000, now=150_000, closed=0), True),  # grew by half
        (HeapState(since=_gc.MAX_AGE, then=100_000, now=100_001, closed=0), True),
        (HeapState(since=_gc.MAX_AGE, then=100_000, now=90_000, closed=0), False),
        # The full collections since the freeze cost more than the budget: due...
        (HeapState(30, 100_000, 110_000, 0, full_ms=_gc.FULL_BUDGET_MS, full_count=5), True),
        # ...once enough of them were timed, and not sooner than the spacing for cost.
        (HeapState(30, 100_000, 110_000, 0, full_ms=50.0, full_count=4), False),
        (HeapState(30, 100_000, 110_000, 0, full_ms=1.0, full_count=500), False),
        (HeapState(30, 100_000, 110_000, 0, full_ms=50.0, full_count=5, cost_spacing=40), False),
    ],
)
def test_when_a_refreeze_is_due(heap: HeapState, expected: Any) -> None:
    assert due(heap) is expected


def test_the_full_collections_are_timed_but_the_freezers_own(thawed: None) -> None:
    freezer = Freezer(sessions=lambda: None)
    try:
        freezer.freeze()
        assert freezer.heap().full_count == 0  # its own collection is not counted
        gc.collect()
        gc.collect(1)  # not a full one
        gc.collect(2)
        heap = freezer.heap()
        assert heap.full_count == 2
        assert heap.full_ms > 0
        assert freezer.stats.full_count == 2
        freezer.freeze()
        assert (freezer.heap().full_count, freezer.stats.full_ms) == (0, 0.0)
        assert len(freezer.stats.before_ms) == 1
    finally:
        freezer.close()
    gc.collect()
    assert freezer.heap().full_count == 0  # closed: no longer timing


def test_collections_that_stay_costly_after_a_refreeze_are_looked_at_less_often(
    thawed: None,
) -> None:
    """A refreeze for cost that leaves the collections as costly (what they walk is
    short-lived, so freezing it helps nothing) doubles the time before the next one for
    cost, up to a bound; a refreeze for another reason starts over."""
    now = [0.0]
    freezer = Freezer(sessions=lambda: None, clock=lambda: now[0])

    def costly_collections() -> None:
        freezer._full_total, freezer._full_count = 1.0, 10  # 100 ms each
        now[0] += 1000

    try:
        freezer.freeze()  # the first freeze
        spacings = []
        for _ in range(7):
            costly_collections()
            assert due(freezer.heap())
            freezer.freeze()
            spacings.append(freezer.heap().cost_spacing)
        assert spacings == [10, 20, 40, 80, 160, 160, 160]
        now[0] += _gc.MAX_AGE
        freezer.freeze()  # due for another reason (here: its age)
        assert freezer.heap().cost_spacing == _gc.MIN_SPACING
    finally:
        freezer.close()
