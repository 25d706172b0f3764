"""The re-run engine on a real `streamlit run` server, driven over its websocket."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import StreamlitClient, StreamlitServer
from tests.waits import eventually
from typed_state._engine import _ECHO_ROUNDS

pytestmark = pytest.mark.server

APPS = Path(__file__).parent / "apps"
STORES = ["memory", "redis", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""One server in memory, two sharing Redis, two sharing an SQLite file, two sharing
PostgreSQL."""


class Servers:
    """The app on one server, or on two sharing a store.

    Clients are opened on the servers in turn, so with two servers a test's
    writer and its first reader are on different processes.
    """

    def __init__(self, *servers: StreamlitServer) -> None:
        self.servers = servers
        self._turn = 0

    def pick(self, on: int | None) -> StreamlitServer:
        if on is None:
            on, self._turn = self._turn % len(self.servers), self._turn + 1
        return self.servers[on]


def run_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, app: Path
) -> Iterator[Servers]:
    """``app`` on one server (param "memory"), or on two sharing a Redis ("redis"), an
    SQLite file ("sqlite") or PostgreSQL ("postgres")."""
    logs = tmp_path_factory.mktemp("logs")
    if request.param == "memory":
        with StreamlitServer(app, log=logs / f"{app.stem}.log") as running:
            yield Servers(running)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'state.db'}"
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_server").url
    else:
        redis_proc = request.getfixturevalue("redis_proc")
        url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    env = {"TYPED_STATE_URL": url, "TYPED_STATE_APP": f"{app.stem}-{uuid.uuid4().hex[:8]}"}
    with (
        StreamlitServer(app, env=env, log=logs / f"{app.stem}-a.log") as a,
        StreamlitServer(app, env=env, log=logs / f"{app.stem}-b.log") as b,
    ):
        yield Servers(a, b)


@pytest.fixture(scope="module", params=STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    yield from run_servers(request, tmp_path_factory, APPS / "scenarios.py")


async def open_client(
    server: Servers, mode: str, *, on: int | None = None, **query: str
) -> StreamlitClient:
    """A session on the next server in turn (or on server number ``on``)."""
    query_string = "&".join([f"mode={mode}", *(f"{k}={v}" for k, v in query.items())])
    url = server.pick(on).ws_url
    return await StreamlitClient(url, query_string=query_string).connect()


def number(client: StreamlitClient, name: str) -> int:
    for text in client.texts():
        match = re.fullmatch(rf"{name}=(-?\d+)", text)
        if match:
            return int(match.group(1))
    raise LookupError(f"no {name}= on screen: {client.texts()}")


def _heard(monitor: StreamlitClient) -> dict[str, str]:
    (line,) = [t for t in monitor.texts() if t.startswith("heard=")]
    return dict(item.rsplit(":", 1) for item in line[len("heard=") :].split())


async def settled(server: Servers, *clients: StreamlitClient, timeout: float = 20.0) -> None:
    """Wait until nothing more will happen, instead of watching for a while: every
    server heard every write (the same versions of the states they share), none has
    a re-run due that it did not request yet, and each client's runs have finished;
    twice in a row, so that a push requested just before a look has started by the
    next one."""
    monitors = [await open_client(server, "stats", on=i) for i in range(len(server.servers))]
    deadline = asyncio.get_running_loop().time() + timeout
    calm = 0
    try:
        while calm < 2:
            assert asyncio.get_running_loop().time() < deadline, "the servers never settled"
            for monitor in monitors:
                await monitor.rerun()
                await monitor.wait_idle()
            heard = [_heard(monitor) for monitor in monitors]
            shared = set.intersection(*(set(h) for h in heard))
            calm = (
                calm + 1
                if all(number(m, "pending") == 0 for m in monitors)
                and all(len({h[name] for h in heard}) == 1 for name in shared)
                and not any(client.busy for client in clients)
                else 0
            )
    finally:
        for monitor in monitors:
            await monitor.close()


def pushed(client: StreamlitClient) -> list[bool]:
    return [run.pushed for run in client.runs]


async def test_reader_is_pushed_and_writer_only_runs_its_own(server: Servers) -> None:
    a = await open_client(server, "count")
    b = await open_client(server, "count")
    n = number(b, "count")
    await a.click("inc")
    await b.wait_for_text(f"count={n + 1}")
    await a.wait_for_text(f"count={n + 1}")
    await settled(server, a, b)
    assert pushed(a) == [False, False]
    assert pushed(b) == [False, True]
    assert all(run.completed for run in a.runs + b.runs)
    await a.close()
    await b.close()


async def test_session_not_reading_is_not_run_until_it_reads(server: Servers) -> None:
    a = await open_client(server, "count")
    elsewhere = await open_client(server, "none")
    hidden = await open_client(server, "toggle")
    n = number(a, "count")
    await a.click("inc")
    await a.wait_for_text(f"count={n + 1}")
    await settled(server, a, elsewhere, hidden)
    assert len(elsewhere.runs) == 1
    assert len(hidden.runs) == 1
    await hidden.set_widget("show", True)
    await hidden.wait_for_text(f"count={n + 1}")
    await a.click("inc")
    await hidden.wait_for_text(f"count={n + 2}")
    assert pushed(hidden) == [False, False, True]
    assert len(elsewhere.runs) == 1
    for client in (a, elsewhere, hidden):
        await client.close()


async def test_invalid_write_is_rejected_and_pushes_nobody(server: Servers) -> None:
    a = await open_client(server, "count")
    b = await open_client(server, "count")
    n = number(b, "count")
    await a.click("invalid")
    await a.wait_for_text("rejected: Input should be greater than or equal to 0")
    await settled(server, a, b)
    assert number(a, "count") == n
    assert pushed(b) == [False]
    await a.close()
    await b.close()


async def test_the_writer_of_the_readme_idiom_sees_its_own_write(server: Servers) -> None:
    a = await open_client(server, "idiom")
    b = await open_client(server, "idiom")
    n = number(a, "count")
    for step in (1, 2):
        await a.click("plus")
        await b.wait_for_text(f"count={n + step}")
        await a.wait_for_text(f"count={n + step}")  # one catch-up run, not a step behind
        await a.wait_idle()
    await settled(server, a, b)
    assert pushed(a) == [False, False, True, False, True]  # each click: its run + a catch-up
    await a.close()
    await b.close()


async def test_a_fragment_callback_updates_the_writers_page_body(server: Servers) -> None:
    room = uuid.uuid4().hex[:8]
    a = await open_client(server, "fragcb", room=room)
    b = await open_client(server, "fragcb", room=room)
    for step in (1, 2, 3):
        await b.click("bump")
        await a.wait_for_text(f"room={step}")
        await b.wait_for_text(f"room={step}")
        assert f"panel={step}" in b.texts()
    await a.close()
    await b.close()


async def test_a_page_writing_on_every_run_makes_two_runs_per_action(server: Servers) -> None:
    a = await open_client(server, "everyrun", room=uuid.uuid4().hex[:8])
    await a.wait_idle()
    await settled(server, a)
    before = len(a.runs)
    await a.click("poke")
    await a.wait_idle()
    await settled(server, a)
    assert len(a.runs) - before <= 2
    assert len(a.runs) <= 4  # opening the page is an action too
    await a.close()


async def test_two_sessions_re_running_each_other_are_reported_once(server: Servers) -> None:
    def reports() -> list[int]:
        return [
            running.log.read_text().count("re-running each other")
            for running in server.servers
            if running.log is not None
        ]

    before = reports()
    room = uuid.uuid4().hex[:8]
    a = await open_client(server, "pingpong", room=room, mine="1")
    b = await open_client(server, "pingpong", room=room, mine="2")
    # Each run of the loop changes a's screen: wait on that, not on the clock.
    await a.wait_for(lambda: sum(reports()) > sum(before), timeout=30)
    rounds = len(a.runs) + len(b.runs)
    # The loop goes on, past the count that warned once more: no second warning.
    await a.wait_for(lambda: len(a.runs) + len(b.runs) >= rounds + 2 * _ECHO_ROUNDS, 30)
    await a.close()
    await b.close()
    new = [after - earlier for after, earlier in zip(reports(), before, strict=True)]
    assert max(new) == 1, new
    text = "".join(r.log.read_text() for r in server.servers if r.log is not None)
    assert "Room['" in text
    assert "**state.widget('count')" in text


async def test_the_user_who_started_a_job_thread_sees_its_progress(server: Servers) -> None:
    room = uuid.uuid4().hex[:8]
    a = await open_client(server, "job", room=room)
    b = await open_client(server, "job", room=room)
    await a.click("start")
    await b.wait_for_text("progress=30")
    await a.wait_for_text("progress=30")
    await a.close()
    await b.close()


async def test_an_in_place_edit_is_refused_in_every_process(server: Servers) -> None:
    a = await open_client(server, "log")
    b = await open_client(server, "log")
    n = number(b, "log")
    await a.click("sneak")
    await a.wait_for(
        lambda: any(t.startswith("Counter.log is read-only (cannot append") for t in a.texts())
    )
    await settled(server, a, b)
    assert number(a, "log") == n
    assert pushed(b) == [False]
    await a.click("append")
    await b.wait_for_text(f"log={n + 1}")
    assert pushed(b) == [False, True]
    await a.close()
    await b.close()


async def test_field_read_in_a_fragment_gets_fragment_runs(server: Servers) -> None:
    a = await open_client(server, "count")
    b = await open_client(server, "fragment")
    n = number(b, "count")
    await a.click("inc")
    await b.wait_for_text(f"count={n + 1}")
    await settled(server, a, b)
    assert pushed(b) == [False, True]
    assert b.runs[1].is_fragment_run
    assert "page body" in b.texts()
    await a.close()
    await b.close()


async def test_no_rerun_pushes_nothing_and_notify_pushes(server: Servers) -> None:
    a = await open_client(server, "count")
    b = await open_client(server, "count")
    n = number(b, "count")
    await a.click("quiet")
    await a.wait_for_text(f"count={n + 1}")
    await settled(server, a, b)
    assert pushed(b) == [False]
    assert number(b, "count") == n
    await a.click("notify")
    await b.wait_for_text(f"count={n + 1}")
    assert pushed(b) == [False, True]
    await a.close()
    await b.close()


async def test_write_to_one_room_pushes_only_its_readers(server: Servers) -> None:
    writer = await open_client(server, "room", room="r1")
    same = await open_client(server, "room", room="r1")
    other = await open_client(server, "room", room="r2")
    n = number(same, "room")
    await writer.click("say")
    await same.wait_for_text(f"room={n + 1}")
    await settled(server, writer, same, other)
    assert pushed(same) == [False, True]
    assert pushed(other) == [False]
    for client in (writer, same, other):
        await client.close()


async def test_members_come_and_go_and_lobbies_follow(server: Servers) -> None:
    key = f"m{uuid.uuid4().hex[:6]}"
    lobby = await open_client(server, "lobby")
    looker = await open_client(server, "members", room=key)
    dropper = await open_client(server, "members", room=key)
    assert f"|{key}|" not in "|" + lobby.texts()[0][7:-1] + "|"  # reading created nothing
    await looker.click("say")  # the first write creates the member
    await lobby.wait_for_text(key)
    await dropper.wait_for_text("room=1")
    runs_before = len(dropper.runs)
    await dropper.click("drop")  # dropped in the page body, after "say" took its instance
    await looker.wait_for_text("room=0")
    await lobby.wait_for(lambda: not lobby.busy and key not in lobby.texts()[0])
    # The dropping session is re-run too: its "say" now holds the fresh member...
    await dropper.wait_for(lambda: len(dropper.runs) >= runs_before + 2 and not dropper.busy)
    assert pushed(dropper)[-1]
    await dropper.click("say")
    await dropper.wait_for_text("room=1")
    await looker.wait_for_text("room=1")
    assert not any("StateDroppedError" in text for text in dropper.texts() + looker.texts())
    for client in (lobby, looker, dropper):
        await client.close()


async def test_closed_sessions_are_not_run_and_not_leaked(server: Servers) -> None:
    a = await open_client(server, "count", on=0)
    await a.click("inc")  # flushes away the sessions earlier tests closed
    await a.wait_idle()
    await settled(server, a)
    before = await open_client(server, "stats", on=0)
    tracked, pushes, active = (number(before, k) for k in ("tracked", "pushes", "active"))
    for _ in range(4):
        batch = await asyncio.gather(*(open_client(server, "count", on=0) for _ in range(25)))
        await asyncio.gather(*(client.close() for client in batch))
    await a.click("inc")
    await a.wait_idle()
    await settled(server, a)
    after = await open_client(server, "stats", on=0)
    assert number(after, "pushes") == pushes  # nobody closed was re-run
    assert number(after, "tracked") <= tracked + 1  # + the `after` session itself
    assert number(after, "active") == active + 1
    for client in (a, before, after):
        await client.close()


async def trigger_write(port: int) -> None:
    """Make the server write `count` now, from a thread of its own."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"!")
    await writer.drain()
    await reader.readexactly(1)
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("delay_ms", [0, 10, 30])
async def test_push_right_after_a_widget_change_keeps_the_value(
    server: Servers, delay_ms: int
) -> None:
    reader = await open_client(server, "widget")
    port = number(reader, "trigger")
    lost = []
    for trial in range(20):
        n = number(reader, "count")
        value = f"v{delay_ms}-{trial}"
        await reader.set_widget("name", value)  # the browser sends its new value...
        await asyncio.sleep(delay_ms / 1000)
        await trigger_write(port)  # ...and a write to a field it shows lands right after
        # The write may reach the server before the browser's message does: the
        # pushed run then shows the old value and the browser's run follows with
        # the new one.  A value is lost only if no run ever shows it with the count.
        # (That a push waits for a busy session is tested in test_engine.py.)
        try:
            await reader.wait_for(
                lambda n=n, value=value: (
                    not reader.busy
                    and f"count={n + 1}" in reader.texts()
                    and f"name={value}" in reader.texts()
                ),
                timeout=5,
            )
        except TimeoutError:
            lost.append((value, reader.texts()))
    assert lost == []
    await reader.close()


async def test_write_storm_readers_keep_completing_runs(server: Servers) -> None:
    readers = await asyncio.gather(*(open_client(server, "storm") for _ in range(10)))
    writer = await open_client(server, "count")
    await writer.click("storm")
    for reader in readers:
        # The writing thread shares the GIL with every re-run and Streamlit's
        # collection after each: on two cores through Redis, 300 writes meant
        # for 3 s took up to 30 s, so the bound is generous.
        await reader.wait_for_text("storm=150", timeout=60)
    for reader in readers:
        during = [run for run in reader.runs[1:] if run.completed]
        # 150 writes over >= 1.5 s: each reader must finish several runs meanwhile
        # (the predecessor finishes none), and never more than one per write.
        assert len(during) >= 5, [r.status for r in reader.runs]
        assert len(reader.runs) <= 151
        assert reader.texts()[-1] == "storm=150"
    for client in (*readers, writer):
        await client.close()


async def test_pushed_run_keeps_the_page_and_its_widget_values(
    tmp_path: Path,
) -> None:
    with StreamlitServer(APPS / "multipage.py", log=tmp_path / "multipage.log") as mp:
        writer = await StreamlitClient(mp.ws_url).connect()
        reader = await StreamlitClient(mp.ws_url).connect()
        await reader.goto("reader")
        await reader.wait_for_text("level=10")
        page = reader.page_script_hash
        await reader.set_widget("level", 30)
        await reader.wait_for_text("level=30")
        n = number(reader, "count")
        await writer.click("inc")
        await reader.wait_for_text(f"count={n + 1}")
        assert reader.runs[-1].pushed
        assert reader.page_script_hash == page
        assert "level=30" in reader.texts()
        await writer.close()
        await reader.close()


@pytest.fixture(scope="module", params=STORES)
def presence_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    yield from run_servers(request, tmp_path_factory, APPS / "presence_pages.py")


async def test_a_page_load_under_navigation_is_one_run(presence_server: Servers) -> None:
    """A page under st.navigation showing presence() ran three times per load, about a
    second apart: the session looked as if it had left its page (Streamlit names the
    page only once the run started) and came back.  Two presence ticks (1 s each) are
    waited out: every extra run came from one."""
    client = await StreamlitClient(presence_server.pick(0).ws_url).connect()
    await client.wait_for_text("here=1")
    monitor = await open_client(presence_server, "stats", on=0)
    start = number(monitor, "ticks")

    async def two_more_ticks() -> bool:
        await monitor.rerun()
        await monitor.wait_idle()
        return number(monitor, "ticks") >= start + 2

    await eventually(two_more_ticks)
    await monitor.close()
    assert [run.pushed for run in client.runs] == [False]
    await client.close()


async def test_presence_follows_tabs_and_pages(presence_server: Servers) -> None:
    names = ("ann", "bob", "cy")
    clients = [
        await StreamlitClient(presence_server.pick(None).ws_url, query_string=f"name={n}").connect()
        for n in names
    ]
    for client in clients:
        await client.wait_for_text("here=3")
    await clients[0].wait_for_text("who=ann,bob,cy")
    await clients[2].close()  # cy closes the tab: the others are pushed
    for client in clients[:2]:
        await client.wait_for_text("here=2")
        assert client.runs[-1].pushed
    await clients[1].goto("elsewhere")  # bob goes to a page that shows no state
    await clients[0].wait_for_text("here=1")
    await clients[0].wait_for_text("who=ann")
    for client in clients[:2]:
        await client.close()


async def test_a_losing_writers_notice_survives_the_winners_push(tmp_path: Path) -> None:
    """A losing writer's st.error was usually wiped by the push from the winner's next
    write (5 of 8 rounds on Redis); notice.error stays until the user acts again."""
    with StreamlitServer(APPS / "notice_page.py", log=tmp_path / "notice.log") as running:
        ann = await StreamlitClient(running.ws_url).connect()
        bob = await StreamlitClient(running.ws_url).connect()
        await ann.click("+1")
        await bob.wait_for_text("count=1")
        await bob.click("save from the start")  # bob's version is older: refused
        await bob.wait_for_text("Somebody saved first: nothing was saved.")
        await ann.click("+1")  # ann wins again: bob is pushed
        await bob.wait_for_text("count=2")
        await bob.wait_idle()
        assert bob.runs[-1].pushed
        assert "Somebody saved first: nothing was saved." in bob.texts()
        await bob.click("plain")  # bob acts: the notice has been seen
        await bob.wait_for_text("plain feedback")
        assert "Somebody saved first: nothing was saved." not in bob.texts()
        await ann.close()
        await bob.close()
