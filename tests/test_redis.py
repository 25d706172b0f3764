"""What only the Redis store does, against a real redis-server (started by pytest-redis):
its layout, an outage, its subscription.  What every shared store does is in
test_shared.py, run on Redis and on SQLite.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from pytest_redis.executor import RedisExecutor

from tests.test_shared import NS, Board, Note, wait_until
from typed_state import BackendError
from typed_state._backends._codec import codec_for
from typed_state._backends._redis import RedisBackend

pytestmark = pytest.mark.redis


def test_values_are_stored_as_json_per_field(raw: redis.Redis) -> None:
    board = Board.get()
    board.count = 3
    with board.mutate("notes") as notes:
        notes.append(Note(text="hi", tags={"a"}))
    stored = raw.hgetall(f"typed_state:tests:state:{NS}")
    assert json.loads(stored[b"count"]) == 3
    assert json.loads(stored[b"notes"]) == [{"text": "hi", "tags": ["a"]}]
    assert json.loads(stored[b"title"]) == "board"


def test_unreachable_redis_is_a_clear_error_and_recovers(
    redis_proc: RedisExecutor, redis_url: str
) -> None:
    redis_proc.stop()
    try:
        with pytest.raises(BackendError, match=r"Redis at redis://.* failed to load"):
            Board.get()
    finally:
        redis_proc.start()
    assert Board.get().count == 0  # the next page run works by itself


def test_redis_going_away_mid_run_loses_no_write(
    redis_proc: RedisExecutor, redis_url: str, other: RedisBackend
) -> None:
    board = Board.get()
    board.count = 5
    live = other.load(NS, codec_for(Board))
    assert live is not None
    redis_proc.stop()
    try:
        with pytest.raises(BackendError, match="Nothing was changed"):
            board.count = 6
        assert board.count == 5  # not shown as done: it was not stored
        assert board.title == "board"  # reads still served from this process
    finally:
        redis_proc.start()  # restarted empty: no persistence
    # Each process puts back what Redis lost, then writes flow again.
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: client.hget(f"typed_state:tests:state:{NS}", "count") == b"5", 10)
    board.count = 7
    wait_until(lambda: live["count"] == 7, 10)


def test_a_process_is_subscribed_before_its_first_read_returns(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change published right after a process's first read must reach it: the
    subscription is in effect before load() returns (it once was not: the listener
    thread subscribed a moment later, and a drop made then was never heard)."""
    subscribe = redis.client.PubSub.subscribe

    def slow_subscribe(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # a busy machine: the listener thread gets the GIL late
        return subscribe(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.PubSub, "subscribe", slow_subscribe)
    client = redis.Redis.from_url(redis_url)
    fresh = RedisBackend(redis_url, "tests")
    try:
        fresh.load(NS, codec_for(Board))
        ((_, subscribers),) = client.pubsub_numsub("typed_state:tests:changes")
        assert subscribers == 1
    finally:
        fresh.close()
        client.close()
