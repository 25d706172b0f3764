"""Benchmark 5, hot path: reads and writes per second of one field, in a real script run.

The app times a tight loop inside a running session that is bound to the
field: typed_state's attribute, streamlit-server-state's ``server_state["k"]``
and a plain dict.
"""

from __future__ import annotations

import re

from benchmarks._common import (
    LABELS,
    SERVER_STATE,
    TYPED_STATE,
    Report,
    median,
    ratio,
    server,
    sessions,
    table,
)

DICT = "dict"
LIBS = (TYPED_STATE, SERVER_STATE, DICT)


async def measure(lib: str, n: int) -> tuple[float, float]:
    with server("hotpath.py", lib, BENCH_HOT_N=str(n)) as running:
        async with sessions(running, 1) as (client,):
            await client.wait_for(
                lambda: sum("/s=" in t for t in client.texts()) == 2 and not client.busy, 120
            )
            figures = {}
            for text in client.texts():
                match = re.fullmatch(r"(reads|writes)/s=(\d+)", text)
                if match:
                    figures[match.group(1)] = float(match.group(2))
    return figures["reads"], figures["writes"]


async def run(quick: bool) -> Report:
    n, repeats = (100_000, 1) if quick else (400_000, 3)
    figures = {lib: [await measure(lib, n) for _ in range(repeats)] for lib in LIBS}
    reads = {lib: median([f[0] for f in figures[lib]]) for lib in LIBS}
    writes = {lib: median([f[1] for f in figures[lib]]) for lib in LIBS}
    label = {**LABELS, DICT: "plain dict"}
    rows = [[label[lib], f"{reads[lib]:,.0f}", f"{writes[lib]:,.0f}"] for lib in LIBS]
    rows.append(
        [
            "typed_state / server-state",
            ratio(reads[TYPED_STATE], reads[SERVER_STATE]),
            ratio(writes[TYPED_STATE], writes[SERVER_STATE]),
        ]
    )
    rows.append(
        [
            "typed_state / dict",
            ratio(reads[TYPED_STATE], reads[DICT]),
            ratio(writes[TYPED_STATE], writes[DICT]),
        ]
    )
    goals = [
        (
            "reads >= 2x streamlit-server-state "
            f"({ratio(reads[TYPED_STATE], reads[SERVER_STATE])})",
            reads[TYPED_STATE] >= 2 * reads[SERVER_STATE],
        )
    ]
    notes = [
        f"{n:,} reads and {max(n // 20, 1000):,} writes of distinct ints, median of {repeats} "
        "fresh servers. typed_state writes are validated and locked; "
        "streamlit-server-state's re-run its bound (own) session on every change.",
    ]
    header = ["", "reads/s", "writes/s"]
    return Report("5. Hot path in a bound session", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["hotpath"])
