"""Fault trials: what holds when processes die and Redis or PostgreSQL restarts.

``python3 benchmarks/faults.py [--quick]`` (in the venv ``benchmarks/run.py`` makes)
runs each trial on real processes and a real redis-server started here, prints a
table and writes it to ``benchmarks/results/faults-YYYY-MM-DD-HHMM.md``; the docs'
"What holds under faults" page quotes it.  There is nothing to compare with
streamlit-server-state: it keeps its state in one process's memory, which a kill -9
or a restart loses whole.

Trials (each round a fresh app name, so rounds never see each other's values):
1. kill -9 mid-burst: two processes do locked increments and appends as fast as they
   can; both are killed with SIGKILL at a random moment.  A third process then reads
   what is stored: every acknowledged write must be there, each append once.
2. A dead holder: a process is killed while it holds a field's lock; how long the next
   locked write waits (the lease is 10 s; a holder on this host is seen dead at once).
3. redis-server killed with SIGKILL while the two processes write, and started again:
   without persistence (empty; the processes put back what they hold) and with an
   append-only file fsynced on every write.
4. A model validator (``lo <= hi``) and two processes that each assign ``lo`` or
   ``hi`` alone, while a third samples both under their locks: combinations the
   validator rejects that were ever stored.
5. A failover: a master, a replica and a sentinel per round; the master killed with
   SIGKILL mid-burst and started again (empty: Sentinel makes it a replica), writers on
   ``redis+sentinel://`` with and without ``wait_replicas=1``.  ``python3
   benchmarks/faults.py failover`` runs only these.
6. PostgreSQL (Debian's server, fsync on, a cluster of the trials' own): trials 1, 2
   and 4, then the server killed with SIGKILL mid-burst and started again (crash
   recovery from its WAL).  ``python3 benchmarks/faults.py postgres`` runs only these.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import RESULTS, ms, table  # noqa: E402
from tests.harness.server import free_port  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

STATES = """
import json, sys, time
from tests.apps.fault_states import Range, Tally
from typed_state import BackendError, LockLostError
"""
"""What every child script starts with: the states tests/test_faults.py uses too."""

WRITER = """
tally, name, i = Tally.get(), sys.argv[2], 0
print("ready", flush=True)
while True:
    i += 1
    try:
        if i % 2:
            with tally.lock("n"):
                tally.n += 1
                print("i", flush=True)
                if sys.argv[3] == "hold":
                    print("holding", flush=True)
                    sys.stdin.readline()
        else:
            tally.append("log", f"{name}-{i}")
            print(f"a {name}-{i}", flush=True)
    except (BackendError, LockLostError):
        print(f"f {name}-{i}", flush=True)
"""

READER = """
tally = Tally.get()
started = time.monotonic()
with tally.lock("n", timeout=30):
    waited = time.monotonic() - started
    n = tally.n
print(json.dumps({"n": n, "log": list(tally.log), "waited": waited}))
"""

RANGE_WRITER = """
import random
rng, chooser = Range.get(), random.Random(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for _ in range(int(sys.argv[3])):
    field = chooser.choice(["lo", "hi"])
    try:
        setattr(rng, field, chooser.randrange(0, 1001))
    except ValueError:
        pass
"""

SAMPLER = """
import select
rng = Range.get()
bad = seen = 0
with rng.lock("lo", "hi"):
    print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:  # until the trial says stop
    with rng.lock("lo", "hi"):
        seen += 1
        bad += rng.lo > rng.hi
print(json.dumps({"seen": seen, "bad": bad}))
"""


def _script(body: str) -> str:
    return STATES + body


class Trial:
    """Child processes on one store URL, under a fresh app name per round."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.app = ""

    def new_round(self) -> None:
        self.app = f"faults-{time.time_ns()}"

    def start(self, body: str, *args: str) -> subprocess.Popen[str]:
        script = self.folder / f"child{abs(hash(body))}.py"
        if not script.exists():
            script.write_text(_script(body))
        return subprocess.Popen(
            [sys.executable, str(script), self.app, *args],
            env={
                **os.environ,
                "TYPED_STATE_URL": self.url,
                "TYPED_STATE_APP": self.app,
                "PYTHONPATH": str(ROOT),
            },
            cwd=self.folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict[str, object]:
        out, _ = self.start(READER).communicate(timeout=60)
        return dict(json.loads(out))


def _rest(child: subprocess.Popen[str]) -> str:
    """What a killed child printed that was not read yet."""
    assert child.stdout is not None
    out = child.stdout.read()
    child.wait(timeout=30)
    return out


def _ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    line = child.stdout.readline()
    if line != "ready\n":
        raise RuntimeError(f"a child did not start: {line!r}")


class Tallied:
    """What the writers acknowledged, and what was found stored."""

    def __init__(self) -> None:
        self.increments = self.appends = 0
        self.lost_increments = self.lost_appends = self.twice = self.rounds = 0

    def add(self, outputs: list[str], stored: dict[str, object]) -> None:
        # A line cut short by the kill was not acknowledged.
        lines = [
            line.split()
            for out in outputs
            for line in out.splitlines(keepends=True)
            if line.endswith("\n")
        ]
        increments = sum(1 for line in lines if line == ["i"])
        appended = {line[1] for line in lines if len(line) == 2 and line[0] == "a"}
        log = list(stored["log"])  # type: ignore[call-overload]
        self.rounds += 1
        self.increments += increments
        self.appends += len(appended)
        self.lost_increments += max(0, increments - int(stored["n"]))  # type: ignore[call-overload]
        self.lost_appends += len(appended - set(log))
        self.twice += len(log) - len(set(log))

    def row(self, trial: str, store: str) -> list[object]:
        return [
            trial,
            store,
            self.rounds,
            f"{self.increments:,}",
            self.lost_increments,
            f"{self.appends:,}",
            self.lost_appends,
            self.twice,
        ]


def _bursts(
    trial: Trial, rounds: int, fault: Callable[[], None], tallied: Tallied | None = None
) -> Tallied:
    """Rounds of two writers at full speed, ``fault`` striking meanwhile, both then
    killed; what they acknowledged against what a new process finds stored (added to
    ``tallied``)."""
    tallied = tallied or Tallied()
    for _ in range(rounds):
        trial.new_round()
        writers = [trial.start(WRITER, name, "go") for name in ("w1", "w2")]
        for writer in writers:
            _ready(writer)
        fault()
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        # Through the reader _ready used: communicate() would miss what it buffered.
        outputs = [_rest(writer) for writer in writers]
        tallied.add(outputs, trial.read())
    return tallied


def kill_mid_burst(trial: Trial, rounds: int) -> Tallied:
    return _bursts(trial, rounds, lambda: time.sleep(random.uniform(0.3, 1.5)))


def dead_holder(trial: Trial, rounds: int) -> list[float]:
    waits = []
    for _ in range(rounds):
        trial.new_round()
        holder = trial.start(WRITER, "h", "hold")
        _ready(holder)
        assert holder.stdout is not None
        while holder.stdout.readline() != "holding\n":
            pass
        holder.send_signal(signal.SIGKILL)
        _rest(holder)
        waits.append(float(trial.read()["waited"]))  # type: ignore[arg-type]
    return waits


class Redis:
    """A redis-server on a fixed port that can be killed and started again: without
    persistence (it comes back empty), or with an append-only file fsynced on every
    write (``folder``: it comes back with every write it acknowledged)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.executable = shutil.which("redis-server")
        if self.executable is None:
            raise SystemExit("redis-server is not installed: run python3 benchmarks/run.py as root")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.executable is not None
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + (
                ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)]
                if self.folder
                else ["--appendonly", "no"]
            ),
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # its data goes with it
            self.process.wait(timeout=10)
            self.process = None


def restart(trial: Trial, redis: Redis, rounds: int) -> Tallied:
    def kill_and_restart() -> None:
        time.sleep(random.uniform(0.5, 1.5))
        redis.stop()
        redis.start()
        time.sleep(random.uniform(1.0, 2.0))

    return _bursts(trial, rounds, kill_and_restart)


def failover(folder: Path, query: str, rounds: int) -> Tallied:
    """Rounds on a fresh master, replica and sentinel each: the master killed (-9)
    mid-burst, a failover, the old master started again (empty: it becomes a replica)."""
    from tests.stores import SentinelSet

    tallied = Tallied()
    for r in range(rounds):
        round_folder = folder / f"sentinel-{query.strip('?').replace('=', '')}-{r}"
        round_folder.mkdir()
        with SentinelSet(round_folder) as redis_set:
            trial = Trial(redis_set.url(query), folder)
            replica = ("127.0.0.1", redis_set.ports["replica"])

            def fault(redis_set: SentinelSet = redis_set, replica: object = replica) -> None:
                time.sleep(random.uniform(0.5, 1.5))
                redis_set.kill("master")
                deadline = time.monotonic() + 60
                while redis_set.master() != replica and time.monotonic() < deadline:
                    time.sleep(0.05)
                redis_set.start("master")
                time.sleep(random.uniform(1.0, 2.0))

            _bursts(trial, 1, fault, tallied)
    return tallied


def postgres(
    folder: Path,
    counts: tuple[int, int, int],
    rows: list[list[object]],
    waits: list[list[object]],
    checks: list[list[object]],
) -> None:
    """Trials 1, 2 and 4 on PostgreSQL, then the server killed -9 mid-burst."""
    from tests.stores import PostgresServer

    rounds, holders, writes = counts
    server = PostgresServer(fsync=True)
    try:
        server.start()
        trial = Trial(server.url, folder)
        print("== PostgreSQL", flush=True)
        rows.append(kill_mid_burst(trial, rounds).row("kill -9 mid-burst", "PostgreSQL"))
        held = dead_holder(trial, holders)
        waits.append(["PostgreSQL", len(held), ms(statistics.median(held)), ms(max(held))])
        seen, bad = validator(trial, max(2, rounds // 4), writes)
        checks.append(["PostgreSQL", f"{seen:,}", bad])

        def crash() -> None:
            time.sleep(random.uniform(0.5, 1.5))
            server.kill()
            server.start()
            time.sleep(random.uniform(1.0, 2.0))

        print("== PostgreSQL killed", flush=True)
        tallied = _bursts(trial, rounds, crash)
        rows.append(tallied.row("PostgreSQL killed -9, restarted", "PostgreSQL"))
    finally:
        server.remove()


def validator(trial: Trial, rounds: int, writes: int) -> tuple[int, int]:
    seen = bad = 0
    for r in range(rounds):
        trial.new_round()
        writers = [trial.start(RANGE_WRITER, f"{r}-{i}", str(writes)) for i in range(2)]
        for writer in writers:
            _ready(writer)
        sampler = trial.start(SAMPLER)
        _ready(sampler)
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for writer in writers:
            writer.communicate(timeout=120)
        result = json.loads(sampler.communicate("stop\n", timeout=120)[0])
        seen += result["seen"]
        bad += result["bad"]
    return seen, bad


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    rounds, holders, writes = (3, 3, 200) if quick else (20, 10, 2000)
    failovers = 3 if quick else 10
    started = time.monotonic()
    rows: list[list[object]] = []
    waits: list[list[object]] = []
    checks: list[list[object]] = []
    if "postgres" in argv:
        with tempfile.TemporaryDirectory() as tmp:
            postgres(Path(tmp), (rounds, holders, writes), rows, waits, checks)
        return _report(quick, started, rows, waits, checks)
    redis = Redis()
    redis.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for query, label in (
                ("", "Sentinel"),
                ("?wait_replicas=1", "Sentinel, wait_replicas=1"),
            ):
                print(f"== failover, {label}", flush=True)
                tallied = failover(folder, query, failovers)
                rows.append(tallied.row("master killed, failover", label))
            if "failover" in argv:
                return _report(quick, started, rows, waits, checks)
            stores = {"SQLite": f"sqlite:///{folder / 'faults.db'}", "Redis": redis.url}
            for store, url in stores.items():
                trial = Trial(url, folder)
                print(f"== {store}", flush=True)
                rows.append(kill_mid_burst(trial, rounds).row("kill -9 mid-burst", store))
                held = dead_holder(trial, holders)
                waits.append([store, len(held), ms(statistics.median(held)), ms(max(held))])
                seen, bad = validator(trial, max(2, rounds // 4), writes)
                checks.append([store, f"{seen:,}", bad])
            print("== Redis restarted empty", flush=True)
            trial = Trial(redis.url, folder)
            rows.append(restart(trial, redis, rounds).row("Redis killed, restarted empty", "Redis"))
            print("== Redis restarted from its AOF", flush=True)
            aof = Redis(folder)
            aof.start()
            try:
                trial = Trial(aof.url, folder)
                rows.append(
                    restart(trial, aof, rounds).row("Redis killed, restarted from its AOF", "Redis")
                )
            finally:
                aof.stop()
            postgres(folder, (rounds, holders, writes), rows, waits, checks)
    finally:
        redis.stop()
    _report(quick, started, rows, waits, checks)


def _report(
    quick: bool,
    started: float,
    rows: list[list[object]],
    waits: list[list[object]],
    checks: list[list[object]],
) -> None:
    when = datetime.now(UTC)
    text = "\n".join(
        [
            f"### Fault trials, {when:%Y-%m-%d %H:%M} UTC{' (quick)' if quick else ''}",
            "",
            "Acknowledged writes (returned without an error) and how many of them the store "
            "lost; appends stored twice.",
            "",
            *table(
                ["fault", "store", "rounds", "increments", "lost", "appends", "lost", "twice"],
                rows,
            ),
            "",
            "A process killed while it held a lock: how long the next locked write waited "
            "(the lease is 10 s).",
            "",
            *table(["store", "rounds", "median wait (ms)", "longest wait (ms)"], waits),
            "",
            "Two processes assigning `lo` or `hi` alone under a validator `lo <= hi`, sampled "
            "under both locks by a third: samples, and samples with `lo > hi`.",
            "",
            *table(["store", "samples", "lo > hi"], checks),
            "",
            f"The trials took {time.monotonic() - started:.0f} s.",
            "",
        ]
    )
    print(text)
    path = RESULTS / f"faults-{when:%Y-%m-%d-%H%M}.md"
    path.write_text(text)
    print(f"written to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
