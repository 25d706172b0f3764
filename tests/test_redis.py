"""What only the Redis store does, against a real redis-server (started by pytest-redis):
its layout, an outage, its subscription.  What every shared store does is in
test_shared.py, run on Redis and on SQLite.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis
from pytest_redis.executor import RedisExecutor

from tests.stores import redis_dump, restart_redis_empty
from tests.test_shared import NS, Board, Note
from tests.waits import wait_until
from typed_state import (
    BackendError,
    ConfigurationError,
    SharedState,
    StoredValueError,
    StoredValueWarning,
    testing,
)
from typed_state._backends._codec import codec_for
from typed_state._backends._redis import RedisBackend
from typed_state._config import settings

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
        with pytest.raises(BackendError, match=r"Redis at redis://.* failed to (load|open)"):
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
    dump = redis_dump(redis_proc)
    redis_proc.stop()
    try:
        with pytest.raises(BackendError, match="Nothing was changed"):
            board.count = 6
        assert board.count == 5  # not shown as done: it was not stored
        assert board.title == "board"  # reads still served from this process
    finally:
        dump.unlink(missing_ok=True)
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


def test_keys_are_listed_when_the_app_name_holds_glob_characters(redis_url: str) -> None:
    """An app name may hold [ ] * ?: unescaped in the SCAN pattern (members stored before
    the member index, entered once), they matched nothing and keys() was empty."""
    backend = RedisBackend(redis_url, "my[app]*?")
    try:
        codec = codec_for(Board)
        for member in ("Board[a]", "Board[b*]", "Boards[c]"):
            backend.create(member, {"count": 1, "notes": [], "title": "t"}, codec)
        assert backend.members("Board") == ["Board[a]", "Board[b*]"]
        assert backend.members("Boards") == ["Boards[c]"]
    finally:
        backend.close()


def test_redis_emptied_under_locked_increments_loses_none(raw: redis.Redis, redis_url: str) -> None:
    """Redis restarted without its data while a thread did locked increments: 550 of
    4,777 acknowledged increments were lost, because the read under the lock found the
    defaults before the reconnect put the held values back."""
    board = Board.get()
    board.title = "kept"
    for _ in range(30):
        with board.lock("count"):
            board.count += 1
    raw.flushall()  # what a restart without persistence leaves
    for _ in range(30):
        with board.lock("count"):
            board.count += 1
    assert board.count == 60
    stored = raw.hgetall(f"typed_state:tests:state:{NS}")
    assert json.loads(stored[b"count"]) == 60
    assert json.loads(stored[b"title"]) == "kept"  # the other fields came back too
    assert board.version("count") == 60  # the change count never goes back


def test_redis_emptied_under_appends_loses_none(raw: redis.Redis, redis_url: str) -> None:
    board = Board.get()
    for i in range(5):
        board.append("notes", Note(text=f"a{i}"))
    raw.flushall()
    for i in range(5):
        board.append("notes", Note(text=f"b{i}"))
    expected = [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    assert [n.text for n in board.notes] == expected
    testing.reset()  # a fresh process reads it all back
    assert [n.text for n in Board.get().notes] == expected


def test_after_redis_restarts_empty_the_newest_value_a_process_holds_wins(
    redis_proc: RedisExecutor, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis killed and restarted without its data, right after process A stored a
    write that process B had not heard of yet: B put its older view back first and
    wrote on top of it, and A's acknowledged write was lost (1 in 13,378 increments in
    the fault trial).  B's write now waits for the others to put back what they hold,
    and a newer value (a higher change count) wins over one put back before it."""
    a, b = RedisBackend(redis_url, "tests"), RedisBackend(redis_url, "tests")
    codec = codec_for(Board)
    try:
        for backend in (a, b):
            backend.load(NS, codec)
            backend.create(NS, {"count": 0, "notes": [], "title": "board"}, codec)
        live_b = b.load(NS, codec)
        assert live_b is not None
        monkeypatch.setattr(b, "_received", lambda data: None)  # B hears nothing more
        # The order that lost the write: B's writer finds the loss and puts its view
        # back before A's listener, back from the outage, puts back A's.
        b_restored = threading.Event()
        restore_b, resync_a = b._restore, a._resync

        def restore_then_tell(namespace: str, ns: Any) -> int:
            count = restore_b(namespace, ns)
            b_restored.set()
            return count

        def resync_after_b() -> None:
            b_restored.wait(10)
            resync_a()

        monkeypatch.setattr(b, "_restore", restore_then_tell)
        monkeypatch.setattr(b, "_resync", lambda: None)  # B's listener comes back late
        monkeypatch.setattr(a, "_resync", resync_after_b)
        mine = a.lock(NS, "count")
        assert mine.acquire(5)
        a.save(NS, {"count": 5}, codec)  # acknowledged; B still holds 0
        mine.release()
        restart_redis_empty(redis_proc)
        theirs = b.lock(NS, "count")
        assert theirs.acquire(30)
        b.save(NS, {"count": live_b["count"] + 1}, codec)
        theirs.release()
        client = redis.Redis.from_url(redis_url)
        stored = client.hget(f"typed_state:tests:state:{NS}", "count")
        client.close()
        print("STORED", stored, b_restored.is_set(), live_b)
        assert stored == b"6"  # A's 5, then B's increment
    finally:
        a.close()
        b.close()


class Desk(SharedState):
    taken: bool = False


def scans(raw: redis.Redis) -> int:
    stats: dict[str, Any] = raw.info("commandstats")  # type: ignore[assignment]
    return int(stats.get("cmdstat_scan", {}).get("calls", 0))


def test_keys_of_a_family_never_scan_the_keyspace(raw: redis.Redis, redis_url: str) -> None:
    """keys() scanned the whole database: 0.6 s for 10 members among 200,000 other keys,
    2.4-3.1 s per call for a 100,000-member family.  The family's member index answers."""
    for start in range(0, 200_000, 20_000):
        raw.mset({f"unrelated:{n}": "x" for n in range(start, start + 20_000)})
    for n in range(10):
        Desk.get(key=f"d{n}").taken = True
    assert Desk.keys() == [f"d{n}" for n in range(10)]  # the first use enters old members
    raw.config_resetstat()
    for _ in range(3):
        testing.reset()  # a fresh process each time
        assert Desk.keys() == [f"d{n}" for n in range(10)]
    assert scans(raw) == 0
    Desk.drop("d3")
    assert Desk.keys() == [f"d{n}" for n in range(10) if n != 3]


def test_members_stored_before_the_index_are_listed(raw: redis.Redis, redis_url: str) -> None:
    """Stores written by earlier releases hold members the index may miss: they are
    entered once (one scan per family and store, a marker remembers it)."""
    for n in range(3):
        Desk.get(key=f"d{n}").taken = True
    family = Desk.__typed_state_namespace__
    raw.delete(f"typed_state:tests:used:{family}", f"typed_state:tests:indexed:{family}")
    testing.reset()
    assert Desk.keys() == ["d0", "d1", "d2"]
    raw.config_resetstat()
    testing.reset()
    assert Desk.keys() == ["d0", "d1", "d2"]
    assert scans(raw) == 0


def test_a_member_put_back_after_redis_lost_it_is_listed(raw: redis.Redis, redis_url: str) -> None:
    desk = Desk.get(key="d1")
    desk.taken = True
    assert Desk.keys() == ["d1"]
    raw.flushall()  # a restart without persistence; this process puts back what it holds
    with desk.lock("taken"):
        pass
    raw.set(f"typed_state:tests:indexed:{Desk.__typed_state_namespace__}", 1)  # no rescan
    testing.reset()
    assert Desk.keys() == ["d1"]


# -- Redis as production runs it: permissions, eviction ---------------------------------------


@pytest.fixture
def limited(raw: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Redis user "app" of its own (with every permission until a test takes some),
    selected through TYPED_STATE_URL; deleted after the test."""
    raw.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all")
    monkeypatch.setenv("TYPED_STATE_URL", redis_url.replace("redis://", "redis://app:pw@"))
    settings.cache_clear()
    yield lambda *rules: raw.execute_command("ACL", "SETUSER", "app", *rules)
    testing.reset()
    raw.execute_command("ACL", "DELUSER", "app")


def test_a_user_that_may_not_publish_is_refused_at_the_first_use(limited: Any) -> None:
    """Such a user's writes raised 'nothing was changed' although Redis held them, and its
    listener logged "lost Redis ... is back" 145 times in 9 s."""
    limited("-publish")
    with pytest.raises(ConfigurationError) as caught:
        Board.get()
    message = str(caught.value)
    assert "may not run what typed_state needs" in message
    assert "may not run what typed_state needs: PUBLISH (on typed_state:tests:*)" in message
    assert "pw" not in message  # the URL's password is masked
    assert "ACL SETUSER <user>" in message


def test_a_write_refused_for_lack_of_publish_stores_nothing(limited: Any, raw: redis.Redis) -> None:
    board = Board.get()
    board.count = 1
    board.append("notes", Note(text="a"))
    board.append("notes", Note(text="b"))  # kept as items now
    limited("-publish")  # taken away while the app runs
    for write in (
        lambda: setattr(board, "count", 42),
        lambda: board.append("notes", Note(text="c")),
        lambda: board.set_item("notes", 0, Note(text="z")),
    ):
        with pytest.raises(BackendError):
            write()
    testing.reset()
    limited("+publish")
    assert Board.get().count == 1
    assert [n.text for n in Board.get().notes] == ["a", "b"]  # a caller may retry: once


def test_an_evicting_policy_is_reported_once_at_the_first_use(
    raw: redis.Redis, redis_url: str
) -> None:
    raw.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.warns(UserWarning, match="deletes keys when it is full") as caught:
            Board.get()
        assert "maxmemory-policy allkeys-lru" in str(caught[0].message)
        assert "noeviction" in str(caught[0].message)
    finally:
        raw.config_set("maxmemory-policy", "noeviction")


def test_evicted_items_are_put_back_before_an_append(raw: redis.Redis, redis_url: str) -> None:
    """An append after only the list's items key was evicted stored a 1-item list (was 50)."""
    board = Board.get()
    for n in range(50):
        board.append("notes", Note(text=str(n)))
    raw.delete(f"typed_state:tests:items:{NS}:notes")  # what allkeys-lru may do
    board.append("notes", Note(text="50"))
    testing.reset()
    assert [n.text for n in Board.get().notes] == [str(n) for n in range(51)]


def test_evicted_items_nobody_holds_are_no_empty_list(raw: redis.Redis, redis_url: str) -> None:
    board = Board.get()
    for n in range(3):
        board.append("notes", Note(text=str(n)))
    raw.delete(f"typed_state:tests:items:{NS}:notes")
    testing.reset()  # a process that never held them
    with pytest.warns(StoredValueWarning, match="Board.notes"):
        fresh = Board.get()
    assert fresh.notes == []  # the default, shown with a warning
    with pytest.raises(StoredValueError):
        fresh.append("notes", Note(text="3"))  # no 1-item list built on it
    fresh.notes = [Note(text="again")]  # overwritten on purpose
    testing.reset()
    assert [n.text for n in Board.get().notes] == ["again"]
