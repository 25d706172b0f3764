"""What only the PostgreSQL store does: its URL and schema, its errors, a message over
NOTIFY's limit, and a restart or a kill -9 of the server under writes.  What every
shared store does is in test_shared.py (and test_faults.py, test_server.py)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from tests.apps.fault_states import Tally
from tests.stores import PostgresServer, PostgresStore
from tests.test_shared import NS, Board, Note
from tests.waits import wait_until
from typed_state import BackendError, ConfigurationError, LockLostError, testing
from typed_state._backends._codec import codec_for
from typed_state._backends._postgres import PostgresBackend, parse_url
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str) -> PostgresStore:
    return PostgresStore(postgres_url)


def test_urls_keep_their_connection_settings_and_name_a_schema() -> None:
    assert parse_url("postgresql://u:p@db:5433/app") == (
        "postgresql://u:p@db:5433/app",
        "typed_state",
    )
    assert parse_url("postgres://u@db/app?sslmode=require&schema=dash_state") == (
        "postgresql://u@db/app?sslmode=require",
        "dash_state",
    )
    with pytest.raises(ConfigurationError, match="invalid schema 'a-b'"):
        parse_url("postgresql://db/app?schema=a-b")


def test_the_tables_live_in_the_schema_the_url_names(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TYPED_STATE_URL", f"{postgres_server.url}?schema=dash_state")
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    try:
        Board.get().count = 3
        store = PostgresStore(postgres_server.url)
        store.schema = "dash_state"
        assert store.stored(NS, "count") == "3"
        with psycopg.connect(postgres_server.url) as conn:
            (found,) = conn.execute("SELECT to_regclass('typed_state.fields')").fetchone() or (1,)
        assert found is None  # nothing in the default schema
    finally:
        testing.reset()
        store = PostgresStore(postgres_server.url)
        store.schema = "dash_state"
        store.clear()


def test_a_server_that_refuses_the_connection_is_a_clear_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TYPED_STATE_URL", "postgresql://app:s3cret@127.0.0.1:1/db")
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    with pytest.raises(BackendError) as caught:
        Board.get()
    message = str(caught.value)
    assert message.startswith("PostgreSQL at postgresql://***@127.0.0.1:1/db failed to ")
    assert "s3cret" not in message
    assert caught.value.url == "postgresql://***@127.0.0.1:1/db"


@pytest.fixture
def limited(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A role "app" with no right on the database until a test grants some, selected
    through TYPED_STATE_URL; dropped after the test."""
    admin = psycopg.connect(postgres_server.url, autocommit=True)
    admin.execute("CREATE ROLE app LOGIN")
    admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    monkeypatch.setenv("TYPED_STATE_URL", postgres_server.url.replace("postgres@", "app:pw@"))
    monkeypatch.setenv("TYPED_STATE_APP", "tests")
    settings.cache_clear()
    yield admin.execute
    testing.reset()
    PostgresStore(postgres_server.url).clear()
    admin.execute("DROP OWNED BY app")
    admin.execute("DROP ROLE app")
    admin.close()


def test_a_user_that_may_not_make_the_tables_is_told_what_to_grant(limited: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Board.get()
    message = str(caught.value)
    assert "the PostgreSQL user of postgresql://***@127.0.0.1:" in message
    assert "may not use the schema 'typed_state'" in message
    assert "GRANT CREATE ON DATABASE" in message
    assert "pw" not in message.replace("GRANT", "")


def test_a_user_granted_the_tables_an_administrator_made_works(
    limited: Any, postgres_server: PostgresServer
) -> None:
    admin = PostgresBackend(postgres_server.url, "tests")
    admin.members("")  # makes the schema and the tables
    admin.close()
    limited("GRANT USAGE ON SCHEMA typed_state TO app")
    limited("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA typed_state TO app")
    with pytest.raises(ConfigurationError, match="may not use the schema"):
        Board.get()  # DELETE is missing
    testing.reset()
    limited("GRANT DELETE ON ALL TABLES IN SCHEMA typed_state TO app")
    limited("GRANT USAGE ON ALL SEQUENCES IN SCHEMA typed_state TO app")
    board = Board.get()
    board.count = 5
    board.append("notes", Note(text="a"))
    testing.reset()
    assert Board.get().count == 5


def test_a_change_message_over_the_notify_limit_reaches_the_other_process(
    pg: PostgresStore,
) -> None:
    """NOTIFY refuses payloads of 8,000 bytes: an append of big items sends its message's
    row id, and the other process reads the message from the table."""
    board = Board.get()
    board.append("notes", Note(text="first"))
    board.append("notes", Note(text="second"))  # kept as items from here
    other = pg.new()
    heard: list[list[str]] = []
    values = other.load(NS, codec_for(Board))
    assert values is not None
    other.watch(NS, lambda names, dropped: heard.append(names))
    big = "x" * 9000
    board.append("notes", Note(text=big))
    wait_until(lambda: heard == [["notes"]])
    assert [note.text for note in values["notes"]] == ["first", "second", big]
    other.close()


def _writer(counter: Tally, acks: dict[str, Any]) -> None:
    step = 0
    while not acks["stop"]:
        step += 1
        try:
            if step % 2:
                with counter.lock("n", timeout=10):
                    counter.n += 1
                acks["increments"] += 1
            else:
                counter.append("log", str(step))
                acks["appended"].append(str(step))
        except (BackendError, LockLostError):
            continue  # PostgreSQL down: refused, nothing acknowledged


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_postgresql_restarted_under_writes_loses_no_acknowledged_write(
    postgres_server: PostgresServer, pg: PostgresStore, how: str
) -> None:
    """The server stopped (or killed -9) and started again while a thread writes:
    every acknowledged increment and append is stored, the writer goes on by itself,
    and another process's listener hears the writes made after the restart."""
    counter = Tally.get()
    counter.n = 0
    other = pg.new()
    seen = other.load(Tally.__typed_state_namespace__, codec_for(Tally))
    assert seen is not None
    acks: dict[str, Any] = {"stop": False, "increments": 0, "appended": []}
    thread = threading.Thread(target=_writer, args=(counter, acks), daemon=True)
    thread.start()
    try:
        wait_until(lambda: acks["increments"] >= 20)
        if how == "kill":
            postgres_server.kill()
        else:
            postgres_server.stop()
        postgres_server.start()
        before = acks["increments"]
        wait_until(lambda: acks["increments"] >= before + 20, timeout=30)
    finally:
        acks["stop"] = True
        thread.join(timeout=30)
    # The other process heard the writes made after the restart (it resynced).
    wait_until(lambda: seen["n"] == counter.n, timeout=10)
    other.close()
    testing.reset()  # a new process's view: what the store holds
    stored = Tally.get()
    # One increment may be stored and its acknowledgement lost with the connection.
    assert acks["increments"] <= stored.n <= acks["increments"] + 1
    assert set(acks["appended"]) <= set(stored.log)
