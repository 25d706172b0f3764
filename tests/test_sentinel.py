"""Redis behind Sentinel (a master, its replicas, sentinels), as Kubernetes runs it:
a failover followed without a restart, writes that wait for a replica."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

import pytest
import redis

from tests.apps.fault_states import Tally
from tests.stores import SentinelSet
from tests.test_faults import _Acks, _write_until_stopped
from tests.waits import wait_until
from typed_state import BackendError, ConfigurationError, testing
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def sentinel_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SentinelSet]:
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    with SentinelSet(tmp_path) as started:
        yield started
        testing.reset()


def use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("TYPED_STATE_URL", url)
    settings.cache_clear()
    testing.reset()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://h:26379/", "redis+sentinel://[user:password@]host:port"),
        ("redis+sentinel://h:26379/m/0?color=red", "unknown options ['color']"),
        ("redis://h:6379/0?wait_replicas=one", "wait_replicas is a number of replicas"),
    ],
)
def test_a_bad_url_is_a_clear_error(
    url: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    use(monkeypatch, url)
    with pytest.raises(ConfigurationError, match=f"invalid Redis URL .*{re.escape(problem)}"):
        Tally.get()


@pytest.mark.redis
def test_no_master_known_is_a_clear_error(
    sentinel_set: SentinelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, sentinel_set.url().replace("/mymaster/", "/nosuchmaster/"))
    with pytest.raises(BackendError, match="No master found for 'nosuchmaster'"):
        Tally.get()


@pytest.mark.redis
def test_a_failover_loses_no_acknowledged_write(
    sentinel_set: SentinelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at a master's own address, writes through a failover lost 306 of 522
    acknowledged increments (they went to the old master, restarted empty, which then
    became a replica and was wiped), then met 822 "read only replica" errors.  Through
    the sentinels, with wait_replicas=1, the writer follows the new master without a
    restart and every acknowledged write is kept."""
    use(monkeypatch, sentinel_set.url("?wait_replicas=1"))
    counter = Tally.get()
    counter.update(n=0, log=[])
    acks = _Acks()
    worker = threading.Thread(
        target=_write_until_stopped, args=(counter, acks, ["increment", "append"])
    )
    worker.start()
    try:
        acks.wait_for(40)
        sentinel_set.kill("master")  # kill -9 mid-burst
        replica = sentinel_set.ports["replica"]
        wait_until(lambda: sentinel_set.master() == ("127.0.0.1", replica), timeout=30)
        # The old master comes back empty; the sentinel makes it a replica of the new one,
        # and writes that wait for a replica are acknowledged again.
        sentinel_set.start("master")
        acks.wait_for(acks.count() + 40)
    finally:
        acks.stop = True
        worker.join(60)
    testing.reset()  # a new process's view, through the sentinels
    stored = Tally.get()
    assert acks.increments <= stored.n
    assert set(acks.appended) <= set(stored.log) <= set(acks.appended) | set(acks.failed)
    assert len(stored.log) == len(set(stored.log))


@pytest.mark.redis
def test_a_write_no_replica_confirms_is_not_acknowledged(
    sentinel_set: SentinelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, sentinel_set.url("?wait_replicas=1"))
    counter = Tally.get()
    counter.n = 1  # the replica confirms it
    sentinel_set.kill("replica")
    with pytest.raises(BackendError, match=r"0 of the 1 replicas it must reach"):
        counter.update(n=2, timeout=1.0)  # waits for the replica at most its timeout
    assert counter.n == 2  # what the master holds (a failover now may lose it)
    master = redis.Redis(port=sentinel_set.ports["master"])
    assert master.hget(f"typed_state:tests:state:{Tally.__typed_state_namespace__}", "n") == b"2"
    master.close()
