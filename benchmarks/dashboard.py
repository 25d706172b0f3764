"""Benchmark 3, fragment dashboard: the value sits in an st.fragment of a ~200 ms CPU page.

10 readers; one session clicks "bump".  typed_state re-runs only the fragment
that read the value; streamlit-server-state re-runs the whole page.
"""

from __future__ import annotations

import asyncio

from benchmarks._common import (
    CONFIGS,
    LABELS,
    SERVER_STATE,
    TYPED_STATE,
    Report,
    median,
    ms,
    now,
    number_on,
    p95,
    ratio,
    seen,
    server,
    sessions,
    settle,
    table,
)

LIBS = (TYPED_STATE, SERVER_STATE)
READERS = 10


async def measure(lib: str, trials: int, env: dict[str, str]) -> tuple[list[float], float]:
    """Fan-out latencies (s) and the share of the readers' pushed runs that were fragment runs."""
    latencies: list[float] = []
    fragment_runs = total = 0
    with server("dashboard.py", lib, **env) as running:
        async with sessions(running, READERS + 1) as clients:
            writer, readers = clients[0], clients[1:]
            await settle(clients)
            value = number_on(writer, "value")
            for _ in range(trials):
                value += 1
                before = [len(c.runs) for c in readers]
                start = now()
                await writer.click("bump")
                arrived = await asyncio.gather(*(seen(c, f"value={value}") for c in readers))
                latencies.append(max(arrived) - start)
                await settle(clients, quiet=0.4)
                for client, b in zip(readers, before, strict=True):
                    for run in client.runs[b:]:
                        total += 1
                        fragment_runs += run.is_fragment_run
    return latencies, fragment_runs / total if total else 0.0


async def run(quick: bool) -> Report:
    trials = 5 if quick else 20
    rows, goals = [], []
    for config, env in CONFIGS.items():
        figures = {lib: await measure(lib, trials, env) for lib in LIBS}
        for lib in LIBS:
            latencies, fragment_share = figures[lib]
            rows.append(
                [
                    config,
                    LABELS[lib],
                    f"{ms(median(latencies))} / {ms(p95(latencies))}",
                    f"{fragment_share:.0%}",
                ]
            )
        ours, theirs = median(figures[TYPED_STATE][0]), median(figures[SERVER_STATE][0])
        rows.append([config, "ratio", ratio(ours, theirs), ""])
        # The goals: 0.2x under the default config, 0.1x otherwise.
        bound = 0.2 if config == "default config" else 0.1
        goals.append(
            (
                f"{config}: <= {bound}x streamlit-server-state's fan-out latency "
                f"({ratio(ours, theirs)})",
                ours <= bound * theirs,
            )
        )
    notes = [
        f"{trials} bumps, {READERS} readers; the page does 200 ms of CPU work outside the "
        "fragment (not a sleep, which would release the GIL)."
    ]
    header = [
        "Streamlit config",
        "library",
        "fan-out ms (median / p95)",
        "readers' runs that were fragment runs",
    ]
    return Report("3. Fragment dashboard, 10 readers", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["dashboard"])
