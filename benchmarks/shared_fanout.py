"""Benchmark 6, fan-out across processes: the writer on one server, the readers on another.

Both servers share one Redis (a redis-server started here on a free port), one
SQLite file (in a temporary folder), or one PostgreSQL (Debian's server, a cluster of
its own in a temporary folder, fsync on); the same fan-out with every session on one
in-memory server is the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks._common import (
    CONFIGS,
    Report,
    median,
    ms,
    now,
    number_on,
    open_clients,
    p95,
    seen,
    server,
    settle,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its URL."""
    from tests.stores import PostgresServer

    cluster = PostgresServer(fsync=True)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.remove()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not installed: run python3 benchmarks/run.py as root")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def measure(readers: int, trials: int, env: dict[str, str], url: str | None) -> list[float]:
    """Latencies (s); with ``url``, the writer and the readers are on two servers."""
    latencies: list[float] = []
    shared = {"TYPED_STATE_URL": url, "TYPED_STATE_APP": f"bench-{time.time_ns()}"} if url else {}
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(server("fanout.py", "typed_state", **env, **shared))
        second = (
            stack.enter_context(server("fanout.py", "typed_state", **env, **shared))
            if url
            else first
        )
        (writer,) = await open_clients(first, 1)
        others = await open_clients(second, readers)
        clients = [writer, *others]
        try:
            await settle(clients)
            count = number_on(writer, "count")
            for _ in range(trials):
                count += 1
                start = now()
                await writer.click("inc")
                arrived = await asyncio.gather(*(seen(c, f"count={count}") for c in others))
                latencies.append(max(arrived) - start)
                await settle(clients, quiet=0.25)
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    return latencies


async def run(quick: bool) -> Report:
    trials = 5 if quick else 20
    sizes = (1, 10)
    rows, goals = [], []
    with (
        redis_server() as redis_url,
        postgres_server() as postgres_url,
        tempfile.TemporaryDirectory() as folder,
    ):
        for (config, env), readers in itertools.product(CONFIGS.items(), sizes):
            sqlite_url = f"sqlite:///{Path(folder) / f'{config}-{readers}.db'}"
            local = await measure(readers, trials, env, None)
            on_redis = await measure(readers, trials, env, redis_url)
            on_sqlite = await measure(readers, trials, env, sqlite_url)
            on_postgres = await measure(readers, trials, env, postgres_url)
            redis_gap = median(on_redis) - median(local)
            sqlite_gap = median(on_sqlite) - median(local)
            postgres_gap = median(on_postgres) - median(local)
            rows.append(
                [
                    config,
                    readers,
                    f"{ms(median(local))} / {ms(p95(local))}",
                    f"{ms(median(on_redis))} / {ms(p95(on_redis))}",
                    ms(redis_gap),
                    f"{ms(median(on_sqlite))} / {ms(p95(on_sqlite))}",
                    ms(sqlite_gap),
                    f"{ms(median(on_postgres))} / {ms(p95(on_postgres))}",
                    ms(postgres_gap),
                ]
            )
            goals.append(
                (
                    f"{config}, N={readers}: Redis p50 within 10 ms of in-process "
                    f"({ms(redis_gap)} ms)",
                    redis_gap <= 0.010,
                )
            )
            goals.append(
                (
                    f"{config}, N={readers}: SQLite pushes arrive within 100 ms of in-process "
                    f"(p50 {ms(sqlite_gap)} ms)",
                    sqlite_gap <= 0.100,
                )
            )
            goals.append(
                (
                    f"{config}, N={readers}: PostgreSQL p50 within 10 ms of in-process "
                    f"({ms(postgres_gap)} ms)",
                    postgres_gap <= 0.010,
                )
            )
    header = [
        "Streamlit config",
        "readers",
        "one server, in memory ms (median / p95)",
        "two servers + Redis ms (median / p95)",
        "Redis p50 difference ms",
        "two servers + SQLite ms (median / p95)",
        "SQLite p50 difference ms",
        "two servers + PostgreSQL ms (median / p95)",
        "PostgreSQL p50 difference ms",
    ]
    notes = [
        f"{trials} writes per cell; typed_state only (streamlit-server-state has no "
        "cross-process store). SQLite: one file on this machine's disk, WAL, "
        "synchronous=FULL; other processes poll its change log every 20 ms. PostgreSQL 15 on "
        "this machine, fsync on; other processes hear LISTEN/NOTIFY."
    ]
    return Report(
        "6. Fan-out across two servers sharing Redis, SQLite or PostgreSQL",
        table(header, rows),
        goals,
        notes,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main(["shared_fanout"])
