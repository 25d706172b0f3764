"""The opt-in gc_freeze on a real server: it freezes once, and leaks nothing per session."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from tests.harness import StreamlitClient, StreamlitServer

pytestmark = pytest.mark.server

APP = Path(__file__).parent / "apps" / "freeze_page.py"
SESSIONS = int(os.environ.get("TYPED_STATE_FREEZE_SESSIONS", "1000"))


def rss_kb(server: StreamlitServer) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


def frozen(client: StreamlitClient) -> int:
    return next(int(t.split("=")[1]) for t in client.texts() if t.startswith("frozen="))


async def churn(server: StreamlitServer, count: int, batch: int = 25) -> None:
    for _ in range(count // batch):
        clients = await asyncio.gather(
            *(StreamlitClient(server.ws_url).connect() for _ in range(batch))
        )
        await asyncio.gather(*(client.close() for client in clients))


async def test_the_heap_is_frozen_once_and_sessions_leak_nothing(tmp_path: Path) -> None:
    with StreamlitServer(
        APP,
        env={"TYPED_STATE_GC_FREEZE": "1"},
        # Closed sessions are kept 120 s by default: measure what stays after them.
        options={"server.disconnectedSessionTTL": "1"},
        log=tmp_path / "freeze.log",
    ) as server:
        first = await StreamlitClient(server.ws_url).connect()
        assert frozen(first) == 0
        for _ in range(50):  # the freeze runs on the event loop once that run finished
            await asyncio.sleep(0.2)
            await first.rerun()
            await first.wait_idle()
            if frozen(first) > 0:
                break
        count = frozen(first)
        assert count > 10_000  # the server's heap: Streamlit, Pydantic, the app
        await churn(server, 100)  # warm-up: caches, pools and arenas reach their size
        await asyncio.sleep(2)
        before = rss_kb(server)
        await churn(server, SESSIONS)
        await asyncio.sleep(2)
        after = rss_kb(server)
        await first.rerun()
        await first.wait_idle()
        assert frozen(first) <= count  # frozen once, not again (freed ones leave it)
        await first.close()
    print(f"RSS {before} -> {after} kB over {SESSIONS} sessions, {count} objects frozen")
    assert after - before <= 5 * 1024, f"RSS grew {after - before} kB over {SESSIONS} sessions"
