"""Benchmark 7, a big chat: one message appended every 100 ms to a chat of 10,000 or
100,000 messages, 10 sessions reading it.

Reports the time per append (in the writing thread, lock and push included: its
CPU time, and its wall time, which includes waiting for the GIL), the
fan-out latency (from the start of an append until a reader shows it) and, under
Redis, the bytes Redis received and sent per append (its INFO counters, every
client included).  typed_state appends with ``append()`` in memory and on two
servers sharing Redis, and with ``mutate()`` for reference;
streamlit-server-state sets a new list in its dict, its own way to add an item.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._common import (
    SERVER_STATE,
    TYPED_STATE,
    Report,
    median,
    ms,
    now,
    open_clients,
    p95,
    ratio,
    server,
    settle,
    table,
)
from benchmarks.shared_fanout import redis_server

if TYPE_CHECKING:
    from tests.harness import StreamlitClient

READERS = 10
VARIANTS: dict[str, tuple[str, dict[str, str], bool]] = {
    "typed_state append(), memory": (TYPED_STATE, {"BENCH_MODE": "append"}, False),
    "typed_state append() to a Log, memory": (TYPED_STATE, {"BENCH_MODE": "log"}, False),
    "typed_state append(), 2 servers + Redis": (TYPED_STATE, {"BENCH_MODE": "append"}, True),
    "typed_state append(), memory, TYPED_STATE_GC_FREEZE=0": (
        TYPED_STATE,
        {"BENCH_MODE": "append", "TYPED_STATE_GC_FREEZE": "0"},
        False,
    ),
    "typed_state mutate(), memory": (TYPED_STATE, {"BENCH_MODE": "mutate"}, False),
    "streamlit-server-state 0.20.2": (SERVER_STATE, {}, False),
}


def counts(client: StreamlitClient) -> list[tuple[float, int]]:
    """(arrival, message count) of every count the client was shown, in order."""
    found = []
    for text, at in client.seen_at.items():
        match = re.fullmatch(r"count=(\d+)", text)
        if match:
            found.append((at, int(match.group(1))))
    return sorted(found)


def redis_bytes(url: str) -> tuple[int, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats: Any = client.info("stats")
    finally:
        client.close()
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


async def measure(
    lib: str, env: dict[str, str], size: int, appends: int, url: str | None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        out = Path(tmp) / "appends.log"
        shared = (
            {"TYPED_STATE_URL": url, "TYPED_STATE_APP": f"chat-{time.time_ns()}"} if url else {}
        )
        app_env = {
            "BENCH_OUT": str(out),
            "BENCH_CHAT_SIZE": str(size),
            "BENCH_CHAT_APPENDS": str(appends),
            **env,
            **shared,
        }
        first = stack.enter_context(server("bigchat.py", lib, **app_env))
        second = stack.enter_context(server("bigchat.py", lib, **app_env)) if url else first
        (trigger,) = await open_clients(first, 1)
        readers = await open_clients(second, READERS)
        clients = [trigger, *readers]
        try:
            await settle(clients)
            before = redis_bytes(url) if url else (0, 0)
            await trigger.click("start")
            deadline = now() + appends * 0.1 + 60
            log: list[tuple[float, float, float]] = []
            while len(log) < appends and now() < deadline:
                await asyncio.sleep(0.1)
                if out.exists():
                    lines = out.read_text().splitlines()
                    log = [(float(a), float(b), float(c)) for a, b, c in map(str.split, lines)]
            last = f"count={size + len(log)}"
            for client in readers:
                with contextlib.suppress(TimeoutError):
                    await client.wait_for(lambda c=client: last in c.seen_at, 10)
            await settle(clients)
            after = redis_bytes(url) if url else (0, 0)
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    latencies = []
    for client in readers:
        shown = counts(client)
        for k, (began, _, _) in enumerate(log, start=1):
            arrived = [at for at, n in shown if n >= size + k]
            if arrived:
                latencies.append(arrived[0] - began)
    walls = [wall for _, wall, _ in log] or [float("nan")]
    cpus = [cpu for _, _, cpu in log] or [float("nan")]
    done = max(1, len(log))
    return {
        "appends": len(log),
        "append": median(walls),
        "append_p95": p95(walls),
        "cpu": median(cpus),
        "cpu_p95": p95(cpus),
        "latency": median(latencies) if latencies else float("nan"),
        "latency_p95": p95(latencies) if latencies else float("nan"),
        "bytes_in": (after[0] - before[0]) / done,
        "bytes_out": (after[1] - before[1]) / done,
    }


async def run(quick: bool) -> Report:
    appends = 30 if quick else 100
    rows, goals, cells = [], [], {}
    with redis_server() as url:
        for size in (10_000, 100_000):
            for name, (lib, env, shared) in VARIANTS.items():
                cell = await measure(lib, env, size, appends, url if shared else None)
                cells[(name, size)] = cell
                rows.append(
                    [
                        f"{size:,}",
                        name,
                        f"{cell['appends']:.0f}",
                        f"{ms(cell['cpu'])} / {ms(cell['cpu_p95'])}",
                        f"{ms(cell['append'])} / {ms(cell['append_p95'])}",
                        f"{ms(cell['latency'])} / {ms(cell['latency_p95'])}",
                        f"{cell['bytes_in']:,.0f} / {cell['bytes_out']:,.0f}" if shared else "",
                    ]
                )
    memory = cells[("typed_state append(), memory", 100_000)]
    thawed = cells[("typed_state append(), memory, TYPED_STATE_GC_FREEZE=0", 100_000)]
    goals.append(
        (
            f"100,000 messages, readers' pushed runs with the frozen heap (default) at least 2x "
            f"faster than without ({ms(memory['latency'])} vs {ms(thawed['latency'])} ms, "
            f"{ratio(thawed['latency'], memory['latency'])})",
            memory["latency"] * 2 <= thawed["latency"],
        )
    )
    goals.append(
        (
            f"append to a 100,000-message list in memory <= 1 ms "
            f"({ms(memory['cpu'])} ms CPU median; {ms(memory['append'])} ms wall)",
            memory["cpu"] <= 0.001,
        )
    )
    log = cells[("typed_state append() to a Log, memory", 100_000)]
    goals.append(
        (
            f"append to a 100,000-message Log in memory <= 1 ms "
            f"({log['cpu'] * 1000:.3f} ms CPU median; {log['append'] * 1000:.3f} ms wall)",
            log["cpu"] <= 0.001,
        )
    )
    for size in (10_000, 100_000):
        on_redis = cells[("typed_state append(), 2 servers + Redis", size)]
        goals.append(
            (
                f"Redis bytes per append independent of the chat's size "
                f"({size:,} messages: {on_redis['bytes_in']:,.0f} in, "
                f"{on_redis['bytes_out']:,.0f} out)",
                on_redis["bytes_in"] < 5_000 and on_redis["bytes_out"] < 5_000,
            )
        )
    header = [
        "messages",
        "",
        "appends done",
        "CPU per append ms (median / p95)",
        "wall time per append ms (median / p95)",
        "fan-out ms (median / p95)",
        "Redis bytes in / out per append",
    ]
    notes = [
        f"{appends} appends, one every 100 ms, {READERS} readers; default Streamlit config.",
        "Fan-out: from the start of an append until a reader shows that many messages "
        "(pushes are coalesced to one per 100 ms per session, so a reader may skip counts).",
        "Redis bytes: INFO total_net_input/output_bytes over the appends, divided by the "
        "appends: every client's traffic (lock, append script, change message to both "
        "servers, lease renewals).",
    ]
    return Report("7. A big chat: one append every 100 ms", table(header, rows), goals, notes)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["bigchat"])
