"""Fault scenarios as properties: whatever the moment a fault strikes, nothing
acknowledged is lost and nothing a model rejects is stored.

Hypothesis picks the moment (after how many acknowledged writes), the program of
each writer and, for a killed process, whether it dies holding a lock; the faults
are real: a process killed with SIGKILL, a redis-server stopped and started again
without its data, threads and processes racing on fields a model validator ties
together.  ``TYPED_STATE_HYPOTHESIS_EXAMPLES`` raises the counts (see
test_properties.py); each process or restart costs about a second, so CI runs few.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.apps.fault_states import Range, Tally
from tests.stores import restart_redis_empty
from tests.test_properties import EXAMPLES
from typed_state import BackendError, LockLostError, testing

if TYPE_CHECKING:
    from pytest_redis.executor import RedisExecutor

    from tests.stores import Store

ROOT = Path(__file__).resolve().parent.parent
FEW = settings(
    max_examples=max(2, EXAMPLES // 8),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SOME = settings(
    max_examples=max(3, EXAMPLES // 4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _folder(tmp_path_factory: pytest.TempPathFactory, worker: str) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "worker.py").write_text(textwrap.dedent(worker))
    return folder


def _start(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(folder / "worker.py"), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=folder,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _fresh(store: Store) -> None:
    testing.reset()
    store.clear()


# -- kill -9 ---------------------------------------------------------------------------

INCREMENTER = """
    import sys
    from tests.apps.fault_states import Tally

    counter = Tally.get()
    acks, hold = int(sys.argv[1]), sys.argv[2] == "hold"
    done = 0
    while True:
        with counter.lock("n"):
            counter.n += 1
            done += 1
            print("ack", flush=True)  # the write returned: acknowledged
            if done == acks and hold:
                print("holding", flush=True)
                sys.stdin.readline()  # killed here, the lock held
"""


@FEW
@given(acks=st.integers(1, 25), hold=st.booleans())
def test_a_process_killed_mid_burst_loses_no_acknowledged_write_and_blocks_nobody(
    store: Store, tmp_path_factory: pytest.TempPathFactory, acks: int, hold: bool
) -> None:
    """kill -9 after ``acks`` acknowledged locked increments, holding the lock or not:
    every acknowledged increment is stored, and the next locked write here is not held
    up by the dead holder (its lease, 10 s, is longer than the 5 s this write waits)."""
    _fresh(store)
    child = _start(_folder(tmp_path_factory, INCREMENTER), str(acks), "hold" if hold else "go")
    assert child.stdout is not None
    seen = 0
    while seen < acks:
        line = child.stdout.readline()
        assert line, "the worker ended before it was killed"
        seen += line == "ack\n"
    if hold:
        assert child.stdout.readline() == "holding\n"
    child.send_signal(signal.SIGKILL)
    # The rest through the same reader: communicate() reads the pipe itself and would
    # miss lines readline() has already taken into its buffer.
    rest = child.stdout.read()
    child.wait(timeout=30)
    acknowledged = seen + rest.count("ack\n")
    testing.reset()  # a new process's view: what the store holds
    counter = Tally.get()
    with counter.lock("n", timeout=5):
        stored = counter.n
        counter.n += 1
    # One increment may have been stored and killed before its acknowledgement.
    assert acknowledged <= stored <= acknowledged + 1
    testing.reset()
    assert Tally.get().n == stored + 1


# -- Redis restarted empty --------------------------------------------------------------


class _Acks:
    """What a worker thread had acknowledged, and a way to wait for a count of them."""

    def __init__(self) -> None:
        self.increments = 0
        self.appended: list[str] = []
        self.failed: list[str] = []
        self.stop = False
        self.changed = threading.Condition()

    def count(self) -> int:
        return self.increments + len(self.appended)

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count() >= count, timeout=60), self.count()


def _write_until_stopped(counter: Tally, acks: _Acks, kinds: list[str]) -> None:
    step = 0
    while not acks.stop:
        kind = kinds[step % len(kinds)]
        step += 1
        try:
            if kind == "increment":
                with counter.lock("n"):
                    counter.n += 1
            else:
                counter.append("log", str(step))
        except (BackendError, LockLostError):
            # Redis down, or its data (the lock too) gone under the lock: the write was
            # refused, or, if only the release failed, stored but not acknowledged.
            if kind == "append":
                acks.failed.append(str(step))
            continue
        with acks.changed:
            if kind == "increment":
                acks.increments += 1
            else:
                acks.appended.append(str(step))
            acks.changed.notify_all()


@pytest.mark.redis
@FEW
@given(
    before=st.integers(1, 40),
    after=st.integers(1, 40),
    kinds=st.lists(st.sampled_from(["increment", "append"]), min_size=1, max_size=4),
    restart=st.booleans(),
)
def test_redis_restarted_empty_under_writes_loses_no_acknowledged_write(
    redis_proc: RedisExecutor,
    redis_url: str,
    before: int,
    after: int,
    kinds: list[str],
    restart: bool,
) -> None:
    """redis-server stopped and started again without its data (no persistence), or
    emptied under live connections (FLUSHALL: nobody hears of it), while a thread does
    locked increments and appends: what was acknowledged is all there."""
    testing.reset()
    counter = Tally.get()
    counter.update(n=0, log=[])
    acks = _Acks()
    worker = threading.Thread(target=_write_until_stopped, args=(counter, acks, kinds))
    worker.start()
    try:
        acks.wait_for(before)
        if restart:
            restart_redis_empty(redis_proc)
        else:
            client = redis.Redis.from_url(redis_url)
            client.flushall()
            client.close()
        acks.wait_for(acks.count() + after)
    finally:
        acks.stop = True
        worker.join(60)
        if not redis_proc.running():
            redis_proc.start()
    testing.reset()  # a new process's view: what Redis holds
    stored = Tally.get()
    # A write that failed may still have been applied before Redis went away; and
    # lost with it, or put back: at most those.
    assert acks.increments <= stored.n
    assert set(acks.appended) <= set(stored.log) <= set(acks.appended) | set(acks.failed)
    assert len(stored.log) == len(set(stored.log))  # nothing applied twice


# -- a model validator under concurrent single-field writes ------------------------------


@st.composite
def writes(draw: st.DrawFn) -> list[tuple[str, int]]:
    """A long program of single-field writes that often conflict (``lo`` high, ``hi``
    low) with ``lo = 0, hi = 1000`` again now and then to make room for the next one."""
    chooser = random.Random(draw(st.integers(0, 2**32)))
    program: list[tuple[str, int]] = []
    for _ in range(draw(st.integers(20, 120))):
        kind = chooser.choice(["lo", "hi", "lo", "hi", "both"])
        value = chooser.randrange(400, 1001) if kind == "lo" else chooser.randrange(0, 601)
        program.append((kind, value))
    return program


def _apply(rng: Range, program: list[tuple[str, int]]) -> None:
    for field, value in program:
        with contextlib.suppress(ValidationError):
            if field == "both":
                rng.update(lo=0, hi=1000)
            else:
                setattr(rng, field, value)


@SOME
@given(programs=st.lists(writes(), min_size=2, max_size=3))
def test_single_field_writes_from_threads_never_break_a_model_validator(
    where: str, programs: list[list[tuple[str, int]]]
) -> None:
    """Threads each assign ``lo`` or ``hi`` alone; a sampler reads both under their
    locks (the store's values): never ``lo > hi``, as the validator demands."""
    testing.reset()
    rng = Range.get()
    rng.update(lo=0, hi=1000)
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with rng.lock("lo", "hi"):
                samples.append((rng.lo, rng.hi))

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=_apply, args=(rng, p)) for p in programs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done.set()
    sampler.join(60)
    testing.reset()
    final = Range.get()
    samples.append((final.lo, final.hi))
    assert all(lo <= hi for lo, hi in samples), [s for s in samples if s[0] > s[1]]


RANGE_WRITER = """
    import json, sys
    from pydantic import ValidationError
    from tests.apps.fault_states import Range

    rng = Range.get()
    print("ready", flush=True)
    sys.stdin.readline()  # go: both writers start together
    for field, value in json.loads(sys.argv[1]):
        try:
            if field == "both":
                rng.update(lo=0, hi=1000)
            else:
                setattr(rng, field, value)
        except ValidationError:
            pass
    print("done", flush=True)
"""


@FEW
@given(programs=st.lists(writes(), min_size=2, max_size=2))
def test_single_field_writes_from_processes_never_break_a_model_validator(
    store: Store, tmp_path_factory: pytest.TempPathFactory, programs: list[list[Any]]
) -> None:
    """The same from two processes on a shared store, this process sampling under locks."""
    _fresh(store)
    Range.get().update(lo=0, hi=1000)
    folder = _folder(tmp_path_factory, RANGE_WRITER)
    children = [_start(folder, json.dumps(program)) for program in programs]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    rng = Range.get()
    samples = []
    while any(child.poll() is None for child in children):
        with rng.lock("lo", "hi"):
            samples.append((rng.lo, rng.hi))
    outputs = [child.communicate(timeout=60)[0] for child in children]
    assert outputs == ["done\n", "done\n"]
    testing.reset()
    final = Range.get()
    samples.append((final.lo, final.hi))
    assert all(lo <= hi for lo, hi in samples), [s for s in samples if s[0] > s[1]]
