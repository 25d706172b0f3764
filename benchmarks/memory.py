"""Memory with the frozen heap: sessions that each hold ~3 MB in reference cycles come in
waves (open, stay, close); the server's RSS must stay bounded.  Also the longest time a
refreeze holds the event loop with 200 sessions open."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks._common import (
    LABELS,
    SERVER_STATE,
    TYPED_STATE,
    Report,
    number_on,
    open_clients,
    server,
    table,
)
from tests.harness import StreamlitClient, StreamlitServer

WAVES = 14
PER_WAVE = 25
STAY = 10.0
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "typed_state (frozen heap, the default)": (TYPED_STATE, {}),
    "typed_state, TYPED_STATE_GC_FREEZE=0": (TYPED_STATE, {"TYPED_STATE_GC_FREEZE": "0"}),
    LABELS[SERVER_STATE]: (SERVER_STATE, {}),
}


def rss_mb(running: StreamlitServer) -> float:
    assert running.process is not None
    for line in Path(f"/proc/{running.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def waves(lib: str, env: dict[str, str], waves: int, stay: float) -> dict[str, float]:
    # Closed sessions go at once (Streamlit keeps them 120 s by default).
    with server("memory.py", lib, STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL="1", **env) as running:
        watcher = await StreamlitClient(running.ws_url).connect()
        after: list[float] = []
        for _ in range(waves):
            clients = await open_clients(running, PER_WAVE)
            await asyncio.sleep(stay)
            await asyncio.gather(*(c.close() for c in clients))
            await asyncio.sleep(3)  # past the TTL, and a look of the freezer (every 5 s)
            await watcher.rerun()
            await watcher.wait_idle()
            after.append(rss_mb(running))
        figures = {
            "second": after[1],
            "last": after[-1],
            "peak": max(after),
            "frozen": float(number_on(watcher, "frozen")),
        }
        if lib == TYPED_STATE:
            figures["freezes"] = float(number_on(watcher, "freezes"))
        await watcher.close()
    return figures


async def stall_with_200_sessions(quick: bool) -> dict[str, float]:
    """Open 200 sessions, close half: the refreeze that follows is timed by the server."""
    with server("memory.py", TYPED_STATE, STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL="1") as running:
        clients = await open_clients(running, 200 if not quick else 60)
        await asyncio.sleep(6)
        half = len(clients) // 2
        await asyncio.gather(*(c.close() for c in clients[:half]))
        await asyncio.sleep(12)  # past the TTL and MIN_SPACING, and a look of the freezer
        watcher = clients[-1]
        await watcher.rerun()
        await watcher.wait_idle()
        text = {t.split("=")[0]: t.split("=")[1] for t in watcher.texts() if "=" in t}
        figures = {
            "freezes": float(text["freezes"]),
            "longest_ms": float(text["longest_ms"]),
            "rss": rss_mb(running),
        }
        await asyncio.gather(*(c.close() for c in clients[half:]))
    return figures


async def run(quick: bool) -> Report:
    count, stay = (4, 3.0) if quick else (WAVES, STAY)
    rows, goals, cells = [], [], {}
    for name, (lib, env) in VARIANTS.items():
        cell = cells[name] = await waves(lib, env, count, stay)
        rows.append(
            [
                name,
                f"{cell['second']:.0f}",
                f"{cell['last']:.0f}",
                f"{cell['last'] - cell['second']:+.0f}",
                f"{cell['peak']:.0f}",
                f"{cell.get('freezes', 0):.0f}",
            ]
        )
    ours = cells["typed_state (frozen heap, the default)"]
    goals.append(
        (
            f"RSS grows at most 150 MB past its level after the second wave "
            f"({ours['last'] - ours['second']:+.0f} MB)",
            ours["last"] - ours["second"] <= 150,
        )
    )
    stall = await stall_with_200_sessions(quick)
    header = [
        "variant",
        "RSS after wave 2 (MB)",
        f"RSS after wave {count} (MB)",
        "growth (MB)",
        "peak after a wave (MB)",
        "freezes",
    ]
    notes = [
        f"{count} waves of {PER_WAVE} sessions that each keep ~3 MB in reference cycles in "
        f"st.session_state, stay {stay:.0f} s and close; server.disconnectedSessionTTL=1 so "
        "closed sessions go at once. RSS read 3 s after each wave closed.",
        f"Longest event-loop stall of a (re)freeze with {200 if not quick else 60} sessions "
        f"open and half of them then closed: {stall['longest_ms']:.1f} ms "
        f"({stall['freezes']:.0f} freezes; RSS then {stall['rss']:.0f} MB).",
    ]
    return Report(
        "8. Memory: sessions in waves, with the frozen heap", table(header, rows), goals, notes
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main(["memory"])
