"""Benchmark 2, wasted re-runs: 50 sessions over 5 chat rooms, one message to one room.

Every session first visits the other rooms (by typing another name in its "room"
box), then settles in its own: 10 sessions per room.  One session of room r0
posts a message; we count every run it causes in all 50 sessions and time the
fan-out to the other 9 sessions of r0.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from benchmarks._common import (
    LABELS,
    SERVER_STATE,
    TYPED_STATE,
    Report,
    median,
    ms,
    now,
    open_clients,
    p95,
    ratio,
    seen,
    server,
    settle,
    table,
)

if TYPE_CHECKING:
    from tests.harness import StreamlitClient

LIBS = (TYPED_STATE, SERVER_STATE)
ROOMS = [f"r{i}" for i in range(5)]
SESSIONS = 50


async def visit(client: StreamlitClient, final: str) -> None:
    for room in [*(r for r in ROOMS if r != final), final]:
        await client.set_widget("room", room)
        await client.wait_idle(timeout=120)


def messages_in(client: StreamlitClient, room: str) -> int:
    for text in client.texts():
        if text.startswith(f"room={room} messages="):
            return int(text.rsplit("=", 1)[1])
    raise LookupError(client.texts())


async def measure(lib: str, trials: int) -> tuple[list[float], list[int], list[int]]:
    """Fan-out latencies (s), all runs per message, and pushed runs per message."""
    latencies: list[float] = []
    runs: list[int] = []
    pushed: list[int] = []
    with server("rooms.py", lib) as running:
        clients = await open_clients(running, SESSIONS)
        try:
            await asyncio.gather(*(visit(c, ROOMS[i % len(ROOMS)]) for i, c in enumerate(clients)))
            await settle(clients)
            writer = clients[0]
            readers = [c for i, c in enumerate(clients) if i % len(ROOMS) == 0 and i]
            count = messages_in(writer, "r0")
            for _ in range(trials):
                count += 1
                runs_before = [len(c.runs) for c in clients]
                start = now()
                await writer.click("send")
                text = f"room=r0 messages={count}"
                arrived = await asyncio.gather(*(seen(c, text) for c in readers))
                latencies.append(max(arrived) - start)
                await settle(clients, quiet=0.5)
                new_runs = [c.runs[b:] for c, b in zip(clients, runs_before, strict=True)]
                runs.append(sum(len(r) for r in new_runs))
                pushed.append(sum(run.pushed for r in new_runs for run in r))
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    return latencies, runs, pushed


async def run(quick: bool) -> Report:
    trials = 3 if quick else 10
    figures = {lib: await measure(lib, trials) for lib in LIBS}
    rows = [
        [
            LABELS[lib],
            f"{median(figures[lib][1]):.0f}",
            f"{median(figures[lib][2]):.0f}",
            f"{ms(median(figures[lib][0]))} / {ms(p95(figures[lib][0]))}",
        ]
        for lib in LIBS
    ]
    ours, theirs = figures[TYPED_STATE], figures[SERVER_STATE]
    rows.append(
        [
            "ratio",
            ratio(median(ours[1]), median(theirs[1])),
            ratio(median(ours[2]), median(theirs[2])),
            ratio(median(ours[0]), median(theirs[0])),
        ]
    )
    readers = SESSIONS // len(ROOMS) - 1
    goals = [
        (
            f"pushed runs = exactly r0's {readers} other readers "
            f"(typed_state pushed {sorted(set(ours[2]))} per message)",
            set(ours[2]) == {readers},
        ),
        (
            f"runs <= 0.2x streamlit-server-state's ({ratio(median(ours[1]), median(theirs[1]))})",
            median(ours[1]) <= 0.2 * median(theirs[1]),
        ),
    ]
    notes = [
        f"{trials} messages; runs count every run in all {SESSIONS} sessions after a message "
        "(the writer's own included); latency is click to the last of r0's readers "
        "showing the message.",
    ]
    header = ["library", "runs per message", "pushed runs", "fan-out ms (median / p95)"]
    return Report("2. Wasted re-runs: 50 sessions in 5 rooms", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["rooms"])
