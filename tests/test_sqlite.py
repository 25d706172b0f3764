"""What only the SQLite store does: its URL, its file, a restart, a kill -9, a file
it cannot use.  What every shared store does is in test_shared.py."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.stores import SQLiteStore
from tests.test_shared import NS, Board, Note
from tests.waits import wait_until
from typed_state import (
    BackendError,
    ConfigurationError,
    LockLostError,
    SharedState,
    StateConfig,
    testing,
)
from typed_state._backends._codec import codec_for
from typed_state._backends._sqlite import database_path


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SQLiteStore:
    from typed_state._config import settings

    store = SQLiteStore(tmp_path / "state.db")
    monkeypatch.setenv("TYPED_STATE_URL", store.url)
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    return store


def test_urls_name_a_file_relative_to_the_start_folder_or_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_path("sqlite:///state.db") == tmp_path / "state.db"
    assert database_path("sqlite:///data/app.db") == tmp_path / "data" / "app.db"
    assert database_path("sqlite:////var/lib/app/state.db") == Path("/var/lib/app/state.db")
    for wrong in ("sqlite://state.db", "sqlite://", "sqlite:///", "sqlite://host/x.db"):
        with pytest.raises(ConfigurationError, match=r"write sqlite:///state\.db"):
            database_path(wrong)
    with pytest.raises(ConfigurationError, match="use memory://"):
        database_path("sqlite:///:memory:")


def test_a_class_can_choose_the_file_in_its_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TYPED_STATE_APP", "tests")

    class Kept(SharedState):
        model_config = StateConfig(typed_state_url=f"sqlite:///{tmp_path / 'kept.db'}")
        n: int = 0

    Kept.get().n = 4
    db = sqlite3.connect(tmp_path / "kept.db")
    assert db.execute("SELECT name, value FROM fields").fetchall() == [("n", "4")]
    db.close()


def test_values_are_stored_as_json_per_field(sqlite_store: SQLiteStore) -> None:
    board = Board.get()
    board.count = 3
    with board.mutate("notes") as notes:
        notes.append(Note(text="hi", tags={"a"}))
    assert json.loads(sqlite_store.stored(NS, "count") or "") == 3
    assert json.loads(sqlite_store.stored(NS, "notes") or "") == [{"text": "hi", "tags": ["a"]}]
    assert json.loads(sqlite_store.stored(NS, "title") or "") == "board"
    db = sqlite3.connect(sqlite_store.path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_a_restart_shows_every_value_as_it_was(sqlite_store: SQLiteStore) -> None:
    board = Board.get()
    board.update(count=5, title="kept")
    Board.get(key="room 1").count = 1
    testing.reset()  # the process is gone; a new one opens the file
    again = Board.get()
    assert (again.count, again.title) == (5, "kept")
    assert Board.keys() == ["room 1"]
    assert again.version("count") == 1


_WRITER = """
import sys
from typed_state import SharedState

class Tally(SharedState):
    n: int = 0

Tally.get().n = int(sys.argv[1])
print("written", flush=True)
sys.stdin.readline()  # killed here
"""


def test_a_write_survives_a_kill_9_right_after_it(
    sqlite_store: SQLiteStore, tmp_path: Path
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "TYPED_STATE_URL": sqlite_store.url, "TYPED_STATE_APP": "tests"}
    proc = subprocess.Popen(
        [sys.executable, str(script), "42"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "written\n"
    proc.send_signal(signal.SIGKILL)  # no clean close: the WAL is not checkpointed
    proc.wait(10)
    proc.stdout.close()
    (namespace,) = [ns for ns in sqlite_store.namespaces() if ns.endswith("Tally")]
    assert sqlite_store.stored(namespace, "n") == "42"


def test_a_corrupt_file_is_a_clear_error_and_the_process_recovers(
    sqlite_store: SQLiteStore,
) -> None:
    sqlite_store.path.write_bytes(b"this is not a database, " * 200)
    with pytest.raises(BackendError, match="failed to open: file is not a database") as caught:
        Board.get()
    assert str(sqlite_store.path) in str(caught.value)
    assert caught.value.url == str(sqlite_store.path)
    with pytest.raises(BackendError, match="Nothing was changed"):  # the next run: the same
        Board.get()
    sqlite_store.path.unlink()  # the operator moves the broken file away
    Board.get().count = 1  # the next page run works by itself
    assert sqlite_store.stored(NS, "count") == "1"


_READ_ONLY = """
import os

import typed_state._backends._memory
import typed_state._backends._sqlite
from typed_state import BackendError, SharedState

if os.environ.get("DROP_TO_NOBODY"):
    # Root writes any file whatever its mode, so a root process gives root up, once
    # everything it runs is imported: the interpreter may live where user nobody
    # may not even look (under root's home with pyenv).
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)

class Board(SharedState):
    count: int = 0

class Scratch(SharedState):
    model_config = {"typed_state_url": "memory://"}
    n: int = 0

try:
    board = Board.get()
    print("read", board.count)
    board.count += 1
    print("wrote", board.count)
except BackendError as exc:
    print("error:", exc)
Scratch.get().n = 1  # the process keeps serving what does not need the file
print("served", Scratch.get().n)
"""


def test_a_read_only_file_is_a_clear_error_and_the_app_keeps_serving() -> None:
    # The server runs as a user who may read the file but not write it.  Root
    # writes any file whatever its mode, so as root the process becomes nobody.
    folder = Path(tempfile.mkdtemp(prefix="typed-state-ro-"))
    try:
        folder.chmod(0o755)
        path = folder / "state.db"
        script = folder / "app.py"
        script.write_text(textwrap.dedent(_READ_ONLY))
        env = {**os.environ, "TYPED_STATE_URL": f"sqlite:///{path}", "TYPED_STATE_APP": "ro"}

        def run(*, drop_root: bool = False) -> list[str]:
            done = subprocess.run(
                [sys.executable, str(script)],
                env={**env, "DROP_TO_NOBODY": "1"} if drop_root else env,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=folder,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.splitlines()

        assert run() == ["read 0", "wrote 1", "served 1"]  # a file it may write
        path.chmod(0o444)
        script.chmod(0o644)
        as_root = os.geteuid() == 0
        if not as_root:
            folder.chmod(0o555)
        lines = run(drop_root=as_root)
        assert lines[0] == "read 1"  # reads are served from the file
        assert lines[-1] == "served 1"
        (error,) = [line for line in lines if line.startswith("error: ")]
        assert error.startswith(f"error: SQLite database {path} failed to ")
        assert "readonly" in error or "unable to open" in error
    finally:
        folder.chmod(0o755)
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def test_connections_opening_a_new_file_at_once_all_get_it(tmp_path: Path) -> None:
    """The first processes on a new file switch it to WAL together; SQLite answers
    one of two journal-mode changes that meet with 'database is locked' at once
    (a deadlock, so no busy wait).  Seen as a BackendError in one of two worker
    processes started together; now the change is tried again.  Threads open
    the file here (each its own connection): 4 errors in 160 opens without the fix."""
    errors: list[Exception] = []
    for round_ in range(60):
        store = SQLiteStore(tmp_path / f"new-{round_}.db")
        together = threading.Barrier(4)

        def open_it(store: SQLiteStore = store, together: threading.Barrier = together) -> None:
            backend = store.new()
            together.wait()
            try:
                backend.members("Tally")
            except BackendError as exc:
                errors.append(exc)
            finally:
                backend.close()

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []


def test_a_change_whose_fetch_failed_is_read_again_once_the_file_answers(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener heard of a change but could not read it (the file failed for a
    moment): it must not lose it, but read every field again once it can."""
    board = Board.get()
    peer = sqlite_store.new()
    try:
        live = peer.load(NS, codec_for(Board))
        assert live is not None
        read = peer._read
        failures = [BackendError("SQLite database failed to read: disk I/O error")]

        def flaky(*args: Any) -> Any:
            if failures:
                raise failures.pop()
            return read(*args)

        monkeypatch.setattr(peer, "_read", flaky)
        board.count = 9
        wait_until(lambda: live["count"] == 9)
        assert failures == []
    finally:
        peer.close()


@pytest.mark.server
async def test_a_real_server_killed_with_9_comes_back_with_its_values(tmp_path: Path) -> None:
    from tests.harness import StreamlitClient, StreamlitServer

    app = Path(__file__).parent / "apps" / "counter.py"
    env = {"TYPED_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}", "TYPED_STATE_APP": "c"}
    with StreamlitServer(app, env=env, log=tmp_path / "first.log") as first:
        client = await StreamlitClient(first.ws_url).connect()
        for count in (1, 2, 3):
            await client.click("inc")
            await client.wait_for_text(f"count={count}")
        await client.close()
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    with StreamlitServer(app, env=env, log=tmp_path / "second.log") as second:
        client = await StreamlitClient(second.ws_url).connect()
        await client.wait_for_text("count=3")
        await client.close()


def test_presence_of_a_process_long_gone_is_deleted(sqlite_store: SQLiteStore) -> None:
    dead, alive = sqlite_store.new(), sqlite_store.new()
    try:
        dead.share_presence({"group": {"ns1": ["ann"]}}, until=1_000.0)  # in 1970
        alive.share_presence({"group": {"ns1": ["bob"]}}, until=time.time() + 15)
        rows = sqlite_store._query("SELECT present FROM presence")
        assert rows == [('{"ns1": ["bob"]}',)]
    finally:
        dead.close()
        alive.close()


def test_a_missing_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typed_state._config import settings

    path = tmp_path / "nope" / "state.db"
    monkeypatch.setenv("TYPED_STATE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    with pytest.raises(BackendError, match=rf"failed to open: the folder {tmp_path / 'nope'} does"):
        Board.get()
    assert not path.parent.exists()  # nothing made behind the operator's back


def test_a_write_into_a_deleted_folder_is_refused_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder was deleted under a running process: its writes went to the unlinked
    file and returned success, and a restarted process saw the old value."""
    import shutil

    from typed_state._config import settings

    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("TYPED_STATE_URL", f"sqlite:///{folder / 'state.db'}")
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    board = Board.get()
    board.count = 1
    shutil.rmtree(folder)
    with pytest.raises(BackendError, match="was deleted or replaced"):
        board.count = 2
    assert board.count == 1  # not shown as done: it was not stored
    folder.mkdir()  # the operator puts the folder back: the next write makes a new file
    board.count = 3
    testing.reset()
    assert Board.get().count == 3


def test_a_locked_write_waits_for_another_writer_no_longer_than_its_timeout(
    sqlite_store: SQLiteStore,
) -> None:
    """A write with timeout=2 took 10 s behind another process's stalled write: the
    store's busy wait (10 s) did not know the write's own timeout."""
    board = Board.get()
    backend = board._ts_slot.backend  # type: ignore[attr-defined]
    staller = sqlite3.connect(sqlite_store.path, isolation_level=None)
    staller.execute("BEGIN IMMEDIATE")  # another process's write, stalled
    try:
        with (
            pytest.raises(BackendError, match="database is locked"),
            board.lock("count", timeout=0.5),
        ):
            board.count = 1
        assert 0 <= backend._busy_ms <= 500  # it waited for its own timeout only
    finally:
        staller.execute("ROLLBACK")
        staller.close()
    board.count = 2  # the file is free again: writes work
    assert sqlite_store.stored(NS, "count") == "2"


def test_leases_run_on_the_clock_the_store_is_given(sqlite_store: SQLiteStore) -> None:
    """Lease expiry is driven by advancing a clock, not by waiting it out."""
    now = [1_000.0]
    holder = sqlite_store.new(lock_lease=10.0, renew_locks=False, clock=lambda: now[0])
    other = sqlite_store.new(lock_lease=10.0, renew_locks=False, clock=lambda: now[0])
    codec = codec_for(Board)
    try:
        for backend in (holder, other):
            backend.create(NS, {"count": 0, "notes": [], "title": "board"}, codec)
        mine = holder.lock(NS, "count")
        assert mine.acquire(1.0)
        theirs = other.lock(NS, "count")
        now[0] += 9.9  # within the lease: still held
        assert not theirs.acquire(0)
        now[0] += 0.2  # past it
        assert theirs.acquire(0)
        other.save(NS, {"count": 2}, codec)
        theirs.release()
        with pytest.raises(LockLostError):
            holder.save(NS, {"count": 1}, codec)
        with pytest.raises(LockLostError):
            mine.release()
        assert sqlite_store.stored(NS, "count") == "2"
    finally:
        holder.close()
        other.close()
