"""Benchmark 1, fan-out: click to every reader having the new value, for N readers.

Same app (apps/fanout.py) on three fresh servers per N: typed_state,
streamlit-server-state, and the floor (the reader sessions re-run by calling
Streamlit's request_rerun directly, no library).  The three servers run side
by side and take turns, one write each, so that drift weighs on all alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks import _common
from benchmarks._common import (
    CONFIGS,
    DEFAULT,
    FLOOR,
    FREEZE_OFF,
    LABELS,
    SERVER_STATE,
    TYPED_STATE,
    Report,
    median,
    ms,
    now,
    number_on,
    p95,
    peak_rss_mb,
    ratio,
    seen,
    server,
    sessions,
    settle,
    table,
)

if TYPE_CHECKING:
    from tests.harness import StreamlitClient

LIBS = (TYPED_STATE, SERVER_STATE, FLOOR)


@dataclass
class _Side:
    clients: list[StreamlitClient]
    count: int
    latencies: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    collections: int = 0
    gc_ms: float = 0.0


def _collections(clients: list[StreamlitClient]) -> int:
    """The server's full collections so far, as the page's latest runs showed it."""
    return max(number_on(c, "gc2") for c in clients)


def _gc_ms(clients: list[StreamlitClient]) -> float:
    """The server's time in full collections so far (ms), as the latest runs showed it."""
    found = []
    for client in clients:
        for text in client.texts():
            if text.startswith("gcms="):
                found.append(float(text[5:]))
    return max(found, default=0.0)


async def _trial(side: _Side) -> None:
    """One click on the writer; time until every reader shows the new count."""
    writer, others = side.clients[0], side.clients[1:]
    side.count += 1
    before = sum(len(c.runs) for c in side.clients)
    start = now()
    await writer.click("inc")
    arrived = await asyncio.gather(*(seen(c, f"count={side.count}") for c in others))
    side.latencies.append(max(arrived) - start)
    await settle(side.clients, quiet=0.25)
    side.runs.append(sum(len(c.runs) for c in side.clients) - before)


async def measure(
    readers: int, trials: int, env: dict[str, str] | None = None
) -> dict[str, tuple[list[float], list[int], float, float, float]]:
    """Per library: latencies (s), runs per write over all sessions, peak RSS (MB),
    full collections (``gc.collect(2)`` that ran) per run, and their time per run (ms).

    The three servers run side by side and take turns, one write each, so that
    the machine's drift over the minutes of a cell weighs on all of them alike.
    """
    with contextlib.ExitStack() as servers:
        running = {
            lib: servers.enter_context(server("fanout.py", lib, **(env or {}))) for lib in LIBS
        }
        async with contextlib.AsyncExitStack() as stack:
            sides = {}
            for lib in LIBS:
                clients = await stack.enter_async_context(sessions(running[lib], readers + 1))
                await settle(clients)
                sides[lib] = _Side(clients, number_on(clients[0], "count"))
                sides[lib].collections = _collections(clients)
                sides[lib].gc_ms = _gc_ms(clients)
            for trial in range(trials):
                # Rotate who goes first: the first after a pause may differ.
                for lib in LIBS[trial % 3 :] + LIBS[: trial % 3]:
                    await _trial(sides[lib])
            return {
                lib: (
                    side.latencies,
                    side.runs,
                    peak_rss_mb(running[lib]),
                    (_collections(side.clients) - side.collections) / max(1, sum(side.runs)),
                    (_gc_ms(side.clients) - side.gc_ms) / max(1, sum(side.runs)),
                )
                for lib, side in sides.items()
            }


async def run(quick: bool) -> Report:
    trials = 5 if quick else 20
    sizes = _common.SIZES or ((1, 10, 50) if quick else (1, 10, 50, 200))
    rows = []
    goals = []
    memory = {}
    medians: dict[tuple[str, int], dict[str, float]] = {}
    for (config, env), readers in itertools.product(CONFIGS.items(), sizes):
        # 200 readers: each write re-runs 200 sessions on 2 cores; fewer writes.
        figures = await measure(readers, trials if readers <= 50 else 5, env)
        med = {lib: median(f[0]) for lib, f in figures.items()}
        medians[(config, readers)] = med
        rows.append(
            [
                config,
                readers,
                *(f"{ms(med[lib])} / {ms(p95(figures[lib][0]))}" for lib in LIBS),
                *(f"{median(figures[lib][1]):.0f}" for lib in LIBS),
                *(f"{figures[lib][3]:.2f}" for lib in LIBS),
                *(f"{figures[lib][4]:.1f}" for lib in LIBS),
                ratio(med[TYPED_STATE], med[SERVER_STATE]),
                ratio(med[TYPED_STATE], med[FLOOR]),
            ]
        )
        if config == DEFAULT and readers >= 10:
            # The frozen heap by default (issue 28): 0.3x at 10 and 50 readers, 0.2x at 200.
            bound = 0.2 if readers >= 200 else 0.3
            goals.append(
                (
                    f"{config}, N={readers}: typed_state <= {bound}x streamlit-server-state "
                    f"({ratio(med[TYPED_STATE], med[SERVER_STATE])})",
                    med[TYPED_STATE] <= bound * med[SERVER_STATE],
                )
            )
        elif config != FREEZE_OFF:
            goals.append(
                (
                    f"{config}, N={readers}: typed_state <= 1.05x streamlit-server-state "
                    f"({ratio(med[TYPED_STATE], med[SERVER_STATE])})",
                    med[TYPED_STATE] <= 1.05 * med[SERVER_STATE],
                )
            )
        if readers == max(sizes) and not env:
            memory = {lib: figures[lib][2] for lib in LIBS}
    header = [
        "Streamlit config",
        "readers",
        *(f"{LABELS[lib]} ms (median / p95)" for lib in LIBS),
        *(f"runs/write {lib}" for lib in LIBS),
        *(f"full collections/run {lib}" for lib in LIBS),
        *(f"full collections ms/run {lib}" for lib in LIBS),
        "vs server-state",
        "vs floor",
    ]
    low, high = min(sizes), max(sizes)

    def slope(config: str, lib: str) -> float:
        """ms per extra reader between the smallest and the largest N."""
        rise = medians[(config, high)][lib] - medians[(config, low)][lib]
        return rise * 1000 / (high - low)

    slopes = [
        f"{config}: " + ", ".join(f"{LABELS[lib]} {slope(config, lib):.1f}" for lib in LIBS)
        for config in CONFIGS
    ]
    notes = [
        f"{trials} writes per cell (5 at 200 readers); runs/write counts every session's runs, "
        "the writer's included.",
        "Full collections/run: `gc.collect(2)` calls that collected (gc.get_stats(), read by "
        "the page) per run. Streamlit calls it at the end of every run; "
        "CPython skips the call while another thread's collection is in progress, so runs "
        "that end together share one. Full collections ms/run: their time (a gc.callbacks "
        "hook in every server alike) per run.",
        f"Cost per extra reader (ms/reader, median latency from N={low} to N={high}): "
        + "; ".join(slopes)
        + ".",
        f"Peak server memory (VmHWM) with {max(sizes) + 1} sessions: "
        + ", ".join(f"{LABELS[lib]} {memory[lib]:.0f} MB" for lib in LIBS)
        + ".",
    ]
    return Report("1. Fan-out to N readers", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["fanout"])
