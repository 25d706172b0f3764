"""What every benchmark shares: servers per library, clients, statistics, the results file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit

from tests.harness import StreamlitClient, StreamlitServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"
RESULTS = Path(__file__).resolve().parent / "results"
"""One file per run of ``benchmarks/run.py`` (``YYYY-MM-DD-HHMM.md``), and INDEX.md."""
LOGS = ROOT / ".bench-logs"

TYPED_STATE = "typed_state"
SERVER_STATE = "server_state"
FLOOR = "floor"
DEFAULT = "default config"
FREEZE_OFF = "default config, TYPED_STATE_GC_FREEZE=0"
CONFIGS: dict[str, dict[str, str]] = {
    DEFAULT: {},
    "runner.postScriptGC=false": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"},
    FREEZE_OFF: {"TYPED_STATE_GC_FREEZE": "0"},
}
"""Streamlit ends every run, fragment runs too, with gc.collect(2) (runner.postScriptGC):
tens of ms holding the GIL, which serializes re-runs whatever the library.  typed_state
freezes the server's long-lived heap out of that collection by default; the third config
turns that off (typed_state as it was before); it changes nothing for the other libraries."""

CONFIG_NAMES = {"default": DEFAULT, "no-gc": "runner.postScriptGC=false", "freeze-off": FREEZE_OFF}
"""Short names of the configs, for ``benchmarks/run.py --configs=default,no-gc``."""

SIZES: tuple[int, ...] | None = None
"""Reader counts the fan-out benchmarks use instead of their own (``--sizes=10,200``)."""

LABELS = {
    TYPED_STATE: "typed_state",
    SERVER_STATE: "streamlit-server-state 0.20.2",
    FLOOR: "floor (request_rerun, no library)",
}


@dataclass
class Report:
    """One benchmark's figures: a markdown table, and each goal with whether it was met."""

    title: str
    table: list[str]
    goals: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", *self.table, ""]
        for goal, met in self.goals:
            lines.append(f"- goal {'met' if met else 'NOT met'}: {goal}")
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


@contextlib.contextmanager
def server(app: str, lib: str, **env: str) -> Iterator[StreamlitServer]:
    """A fresh ``streamlit run benchmarks/apps/<app>`` for one library."""
    LOGS.mkdir(exist_ok=True)
    running = StreamlitServer(
        APPS / app,
        env={"BENCH_LIB": lib, **env},
        log=LOGS / f"{Path(app).stem}-{lib}.log",
    )
    with running:
        yield running


async def open_clients(
    running: StreamlitServer, count: int, *, query_string: str = "", batch: int = 10
) -> list[StreamlitClient]:
    """``count`` sessions that each completed their first run (opened ``batch`` at a time)."""
    clients: list[StreamlitClient] = []
    while len(clients) < count:
        size = min(batch, count - len(clients))
        clients += await asyncio.gather(
            *(
                StreamlitClient(running.ws_url, query_string=query_string).connect()
                for _ in range(size)
            )
        )
    return clients


@contextlib.asynccontextmanager
async def sessions(
    running: StreamlitServer, count: int, *, query_string: str = ""
) -> AsyncIterator[list[StreamlitClient]]:
    clients = await open_clients(running, count, query_string=query_string)
    try:
        yield clients
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def settle(clients: Sequence[StreamlitClient], quiet: float = 0.3) -> None:
    """Wait until no client has received anything for ``quiet`` seconds."""
    while True:
        before = [len(c.runs) for c in clients]
        await asyncio.sleep(quiet)
        await asyncio.gather(*(c.wait_idle(timeout=60) for c in clients))
        if [len(c.runs) for c in clients] == before:
            return


def number_on(client: StreamlitClient, name: str) -> int:
    """The N of the ``name=N`` text the client shows."""
    for text in client.texts():
        match = re.fullmatch(rf"{re.escape(name)}=(\d+)", text)
        if match:
            return int(match.group(1))
    raise LookupError(f"no {name}= on screen: {client.texts()}")


async def seen(client: StreamlitClient, text: str, timeout: float = 60.0) -> float:
    """``time.monotonic()`` when ``text`` first arrived at ``client``."""
    await client.wait_for(lambda: text in client.seen_at, timeout)
    return client.seen_at[text]


def peak_rss_mb(running: StreamlitServer) -> float:
    """The server process's peak resident memory so far (VmHWM), in MB."""
    assert running.process is not None
    status = Path(f"/proc/{running.process.pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Results:
    """This run's results file, written as each benchmark ends (nothing is lost), and
    its line in the index."""

    def __init__(self, *, quick: bool) -> None:
        started = datetime.now(UTC)
        self.quick = quick
        self.path = RESULTS / f"{started:%Y-%m-%d-%H%M}{'-quick' if quick else ''}.md"
        self.header = (
            f"## {started:%Y-%m-%d %H:%M} UTC{' (quick)' if quick else ''}\n\n"
            f"Streamlit {streamlit.__version__}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores, {platform.machine()}. "
            "Latencies in ms, median and p95 over the trials; ratios are typed_state / other.\n\n"
        )
        RESULTS.mkdir(exist_ok=True)
        self.path.write_text("# Benchmark results\n\n" + self.header)
        self.goals = [0, 0]

    def add(self, text: str) -> None:
        with self.path.open("a") as out:
            out.write("\n" + text)
        self.goals[0] += text.count("- goal met:")
        self.goals[1] += text.count("- goal NOT met:")

    def index(self, names: Sequence[str]) -> None:
        """One line per run in INDEX.md, newest first."""
        index = RESULTS / "INDEX.md"
        lines = index.read_text().splitlines()[2:] if index.exists() else []
        line = (
            f"- [{self.path.stem}]({self.path.name}): {', '.join(names)}"
            f"{' (quick)' if self.quick else ''}; goals met {self.goals[0]}, "
            f"not met {self.goals[1]}"
        )
        index.write_text("# Benchmark runs, newest first\n\n" + "\n".join([line, *lines]) + "\n")


def update_docs(section: str) -> None:
    """Replace the results quoted in the docs' Performance page with this run's."""
    readme = ROOT / "docs" / "performance.md"
    text = readme.read_text()
    start, end = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
    if start not in text or end not in text:
        return
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    quoted = section.replace("## ", "#### ", 1).replace("### ", "##### ")
    readme.write_text(f"{before}{start}\n{quoted}\n{end}{after}")


def now() -> float:
    return time.monotonic()
