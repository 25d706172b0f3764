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
    table,
)
from tests.harness import StreamlitClient

DICT = "dict"
LIBS = (TYPED_STATE, SERVER_STATE, DICT)


KINDS = ("reads", "writes", "reads_one", "reads_big")


async def measure(lib: str, n: int) -> dict[str, float]:
    with server("hotpath.py", lib, BENCH_HOT_N=str(n)) as running:
        # The first run is the measurement: longer than a connect waits for.
        client = await StreamlitClient(running.ws_url).connect(run=False)
        try:
            await client.rerun()
            await client.wait_for(
                lambda: sum("/s=" in t for t in client.texts()) == len(KINDS) and not client.busy,
                180,
            )
            figures = {}
            for text in client.texts():
                match = re.fullmatch(r"(\w+)/s=(\d+)", text)
                if match:
                    figures[match.group(1)] = float(match.group(2))
        finally:
            await client.close()
    return figures


async def run(quick: bool) -> Report:
    n, repeats = (100_000, 1) if quick else (400_000, 3)
    figures = {lib: [await measure(lib, n) for _ in range(repeats)] for lib in LIBS}
    per = {kind: {lib: median([f[kind] for f in figures[lib]]) for lib in LIBS} for kind in KINDS}
    reads, one, big = per["reads"], per["reads_one"], per["reads_big"]
    label = {**LABELS, DICT: "plain dict"}
    rows = [[label[lib], *(f"{per[kind][lib]:,.0f}" for kind in KINDS)] for lib in LIBS]
    for other, name in ((SERVER_STATE, "server-state"), (DICT, "dict")):
        rows.append(
            [
                f"typed_state / {name}",
                *(ratio(per[kind][TYPED_STATE], per[kind][other]) for kind in KINDS),
            ]
        )
    goals = [
        (
            "reads >= 2x streamlit-server-state "
            f"({ratio(reads[TYPED_STATE], reads[SERVER_STATE])})",
            reads[TYPED_STATE] >= 2 * reads[SERVER_STATE],
        ),
        (
            "a 10,000-item list field reads at >= 0.5x the rate of a 1-item one "
            f"({ratio(big[TYPED_STATE], one[TYPED_STATE])})",
            big[TYPED_STATE] * 2 >= one[TYPED_STATE],
        ),
        (
            "10,000-item list reads >= 2x streamlit-server-state "
            f"({ratio(big[TYPED_STATE], big[SERVER_STATE])})",
            big[TYPED_STATE] >= 2 * big[SERVER_STATE],
        ),
    ]
    notes = [
        f"{n:,} reads and {max(n // 20, 1000):,} writes of distinct ints, median of {repeats} "
        "fresh servers. typed_state writes are validated and locked; "
        "streamlit-server-state's re-run its bound (own) session on every change.",
        f"{max(n // 10, 1000):,} reads each of a 1-item and a 10,000-item list field: "
        "typed_state values are read-only (frozen once per write), so a read copies "
        "nothing whatever the size.",
    ]
    header = ["", "int reads/s", "int writes/s", "1-item list reads/s", "10,000-item list reads/s"]
    return Report("5. Hot path in a bound session", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["hotpath"])
