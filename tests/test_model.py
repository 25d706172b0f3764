"""SharedState: instances, validation, change detection, locks, families."""

from __future__ import annotations

import sys
import threading
import types
import warnings
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tests.fakes import FakeSession, FakeSessions
from typed_state import (
    DefinitionError,
    FieldNameError,
    InvalidKeyError,
    KeyNotAllowedError,
    LockLostError,
    LockTimeoutError,
    SchemaChangedWarning,
    SharedState,
    StateDroppedError,
    TypedStateError,
    _engine,
    _slot,
    no_rerun,
)
from typed_state._backends._memory import MemoryBackend


class Message(BaseModel):
    author: str
    text: str


class Chat(SharedState):
    messages: list[Message] = Field(default_factory=list)
    count: int = Field(0, ge=0)
    title: str = "general"


class Harness:
    """A reader session bound through real field reads, and a fake server."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sessions = FakeSessions()
        self.current: FakeSession | None = None
        self._run: Any = None
        engine = _engine.Engine(
            min_interval=0.0, sessions=lambda: self.sessions, clock=self.sessions.clock
        )
        _engine.use_engine(engine)  # testing.reset() (conftest) puts a fresh one back
        monkeypatch.setattr(_slot._streamlit, "current_run", lambda: self._run)

    def read_as(self, session_id: str, state: SharedState, *fields: str) -> None:
        session = self.sessions.get(session_id) or self.sessions.add(session_id)
        self._run = session.run()
        for name in fields:
            getattr(state, name)
        self._run = None

    def as_session(self, session_id: str) -> None:
        session = self.sessions.get(session_id) or self.sessions.add(session_id)
        self._run = session.run()

    def outside(self) -> None:
        self._run = None

    def reruns(self, session_id: str) -> list[str | None]:
        self.sessions.pump()
        return self.sessions.sessions[session_id].reruns


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(monkeypatch)


# -- instances ----------------------------------------------------------------------


def test_get_returns_the_one_shared_instance() -> None:
    state = Chat.get()
    assert Chat.get() is state
    assert isinstance(state, Chat)
    assert state.count == 0
    assert state.messages == []


def test_values_are_shared_across_threads() -> None:
    def write() -> None:
        Chat.get().count = 7

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert Chat.get().count == 7


def test_direct_construction_is_refused() -> None:
    with pytest.raises(TypeError, match=r"use Chat\.get\(\)"):
        Chat()


def test_a_field_without_default_is_refused_at_class_creation() -> None:
    with pytest.raises(DefinitionError, match="needs one"):

        class Bad(SharedState):
            name: str


def test_a_field_named_like_a_method_is_refused() -> None:
    with (
        pytest.raises(DefinitionError, match="'lock' is reserved by SharedState"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # Pydantic's own "shadows an attribute"

        class Bad(SharedState):
            lock: int = 0  # type: ignore[assignment]


def test_unknown_attribute_is_a_field_name_error() -> None:
    state = Chat.get()
    with pytest.raises(
        FieldNameError,
        match="Chat has no field 'cout'; its fields are: count, messages, title",
    ):
        state.cout = 3


def test_pydantic_methods_see_the_shared_values() -> None:
    state = Chat.get()
    state.count = 2
    assert state.model_dump() == {"messages": [], "count": 2, "title": "general"}
    assert Chat.get().model_dump_json() == '{"messages":[],"count":2,"title":"general"}'
    assert "count=2" in repr(state)


def test_model_copy_is_a_detached_snapshot() -> None:
    state = Chat.get()
    snapshot = state.model_copy(deep=True)
    state.count = 5
    assert snapshot.count == 0
    snapshot.count = 9  # a plain model: no effect on the shared one
    assert state.count == 5


def test_subclass_inherits_fields_and_has_its_own_values() -> None:
    class Room(Chat):
        topic: str = ""

    Chat.get().count = 3
    room = Room.get()
    assert room.count == 0
    assert room.topic == ""


def test_private_attributes_are_allowed() -> None:
    class WithPrivate(SharedState):
        count: int = 0
        _cache: dict[str, int] = {}

    state = WithPrivate.get()
    state._cache = {"a": 1}
    assert state._cache == {"a": 1}


# -- validation -----------------------------------------------------------------------


def test_invalid_write_raises_and_keeps_the_value(harness: Harness) -> None:
    state = Chat.get()
    state.count = 3
    harness.read_as("reader", state, "count")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        state.count = -1
    with pytest.raises(ValidationError):
        state.count = "many"  # type: ignore[assignment]
    assert state.count == 3
    assert harness.reruns("reader") == []


def test_values_are_coerced_like_pydantic_does() -> None:
    state = Chat.get()
    state.count = "4"  # type: ignore[assignment]
    assert state.count == 4
    state.messages = [{"author": "ann", "text": "hi"}]  # type: ignore[list-item]
    assert state.messages == [Message(author="ann", text="hi")]


def test_field_and_model_validators_run_on_assignment() -> None:
    class Bounded(SharedState):
        low: int = 0
        high: int = 10

        @field_validator("low")
        @classmethod
        def not_thirteen(cls, value: int) -> int:
            if value == 13:
                raise ValueError("unlucky")
            return value

        @model_validator(mode="after")
        def ordered(self) -> Bounded:
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    state = Bounded.get()
    with pytest.raises(ValidationError, match="unlucky"):
        state.low = 13
    with pytest.raises(ValidationError, match="low must not exceed high"):
        state.low = 11
    state.update(low=11, high=20)  # together they are valid
    assert (state.low, state.high) == (11, 20)
    with pytest.raises(ValidationError, match="low must not exceed high"):
        state.update(low=30, high=25)
    assert (state.low, state.high) == (11, 20)


def test_update_is_all_or_nothing(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("reader", state, "count", "title")
    with pytest.raises(ValidationError):
        state.update(count=5, title=None)
    assert (state.count, state.title) == (0, "general")
    assert harness.reruns("reader") == []
    state.update(count=5, title="news")
    assert (state.count, state.title) == (5, "news")
    assert harness.reruns("reader") == [None]


def test_update_with_unknown_field_changes_nothing() -> None:
    state = Chat.get()
    with pytest.raises(FieldNameError, match="no field 'cont'"):
        state.update(count=1, cont=2)
    assert state.count == 0


# -- change detection -------------------------------------------------------------------


def test_equal_value_reruns_nobody(harness: Harness) -> None:
    state = Chat.get()
    state.count = 2
    harness.read_as("reader", state, "count")
    state.count = 2
    state.messages = []
    assert harness.reruns("reader") == []


def test_changed_value_reruns_readers(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("reader", state, "count")
    state.count = 1
    assert harness.reruns("reader") == [None]


def test_a_stored_value_written_back_is_no_change(harness: Harness) -> None:
    state = Chat.get()
    state.messages = [Message(author="ann", text="hi")]
    harness.read_as("reader", state, "messages")
    state.messages = state.messages  # read-only, so it cannot have changed
    assert harness.reruns("reader") == []


class _ArrayLike:
    """Compares like a numpy array: element-wise, not to a bool."""

    def __init__(self, data: list[int]) -> None:
        self.data = data

    def __eq__(self, other: object) -> Any:
        return [True, False]


class _Raising:
    def __eq__(self, other: object) -> bool:
        raise ValueError("ambiguous")


@pytest.mark.parametrize("factory", [lambda: _ArrayLike([1, 2]), lambda: _Raising()])
def test_non_boolean_or_raising_comparison_counts_as_change(harness: Harness, factory: Any) -> None:
    class Holder(SharedState):
        value: Any = None

    state = Holder.get()
    state.value = factory()
    harness.read_as("reader", state, "value")
    state.value = factory()
    assert harness.reruns("reader") == [None]


def test_writer_is_not_rerun_when_its_run_shows_the_new_value(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("writer", state, "count")
    harness.read_as("reader", state, "count")
    harness.as_session("writer")
    state.count = 1
    assert state.count == 1  # the same run draws it after the write
    harness.outside()
    assert harness.reruns("writer") == []
    assert harness.reruns("reader") == [None]


def test_writer_that_drew_the_old_value_gets_one_catch_up_run(harness: Harness) -> None:
    state = Chat.get()
    harness.as_session("writer")
    assert state.count == 0  # st.write(state.count)
    state.count = 1  # if st.button("+1"): ...
    harness.outside()
    assert harness.reruns("writer") == [None]


def test_no_rerun_stores_without_pushing_and_notify_pushes(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("reader", state, "count")
    with no_rerun:
        state.count = 10
    assert state.count == 10
    assert harness.reruns("reader") == []
    state.notify("count")
    assert harness.reruns("reader") == [None]


def test_no_rerun_is_per_thread() -> None:
    inside = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def hold() -> None:
        with no_rerun:
            seen.append(no_rerun.active)
            inside.set()
            release.wait(5)
        seen.append(no_rerun.active)

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    seen.append(no_rerun.active)  # this thread, while the other holds it
    release.set()
    thread.join()
    assert seen == [True, False, False]


def test_notify_checks_field_names() -> None:
    with pytest.raises(FieldNameError):
        Chat.get().notify("cont")


# -- locks -----------------------------------------------------------------------------


def test_locked_increments_from_16_threads_end_exact() -> None:
    class Counter(SharedState):
        count: int = 0

    state = Counter.get()
    # Threads switch every 10 us instead of 5 ms: a race shows in 2,000 increments each
    # as it did in 10,000 (and the test takes 2 s, not 10).
    threads, per_thread = 16, 2_000

    def work() -> None:
        for _ in range(per_thread):
            with state.lock("count"):
                state.count += 1

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(switching)
    assert state.count == threads * per_thread


def test_lock_is_reentrant() -> None:
    state = Chat.get()
    with state.lock("count"), state.lock("count", "title"):
        state.count = 1
        state.update(count=2, title="x")
    assert state.count == 2


def test_lock_times_out_with_a_clear_error() -> None:
    state = Chat.get()
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with state.lock("count"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        with (
            pytest.raises(LockTimeoutError, match=r"could not lock Chat\.\{count\} within 0\.05 s"),
            state.lock("count", timeout=0.05),
        ):
            pass
        with pytest.raises(LockTimeoutError):
            state.update(count=1, timeout=0.05)
    finally:
        release.set()
        thread.join()
    assert state.count == 0


def test_lock_checks_field_names() -> None:
    with pytest.raises(FieldNameError):
        Chat.get().lock("cont")


# -- mutate ------------------------------------------------------------------------------


def test_mutate_stores_the_edit_and_pushes(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("reader", state, "messages")
    with state.mutate("messages") as messages:
        messages.append(Message(author="ann", text="hi"))
    assert state.messages == [Message(author="ann", text="hi")]
    assert harness.reruns("reader") == [None]


def test_mutate_without_change_pushes_nothing(harness: Harness) -> None:
    state = Chat.get()
    harness.read_as("reader", state, "messages")
    with state.mutate("messages"):
        pass
    assert harness.reruns("reader") == []


def test_mutate_that_raises_leaves_the_value() -> None:
    state = Chat.get()
    with pytest.raises(RuntimeError), state.mutate("messages") as messages:
        messages.append(Message(author="ann", text="hi"))
        raise RuntimeError("changed my mind")
    assert state.messages == []


def test_mutate_to_an_invalid_value_raises_and_keeps_the_value() -> None:
    state = Chat.get()
    with pytest.raises(ValidationError), state.mutate("messages") as messages:
        messages.append("not a message")
    assert state.messages == []


def test_mutate_from_threads_loses_no_edit() -> None:
    state = Chat.get()

    def work(n: int) -> None:
        for i in range(50):
            with state.mutate("messages") as messages:
                messages.append(Message(author=str(n), text=str(i)))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(state.messages) == 200


# -- keyed families --------------------------------------------------------------------


def test_keyed_family_members_are_independent(harness: Harness) -> None:
    general, news = Chat.get(key="general"), Chat.get(key="news")
    assert Chat.get(key="general") is general
    harness.read_as("in-general", general, "count")
    harness.read_as("in-news", news, "count")
    general.count = 1
    assert news.count == 0
    assert Chat.get().count == 0
    assert harness.reruns("in-general") == [None]
    assert harness.reruns("in-news") == []


def test_keys_and_drop() -> None:
    Chat.get()
    Chat.get(key="b").count = 1
    Chat.get(key="a").count = 2
    assert Chat.keys() == ["a", "b"]
    assert Chat.drop("b") is True
    assert Chat.drop("b") is False
    assert Chat.keys() == ["a"]
    assert Chat.get(key="b").count == 0


def test_reading_a_member_stores_nothing() -> None:
    looking = Chat.get(key="justlooking")
    assert looking.count == 0
    assert looking.messages == []
    assert Chat.keys() == []
    assert Chat.drop("justlooking") is False
    looking = Chat.get(key="justlooking")
    looking.count = 1
    assert Chat.keys() == ["justlooking"]


def test_write_through_a_dropped_instance_is_refused() -> None:
    room = Chat.get(key="r")
    Chat.drop("r")
    with pytest.raises(StateDroppedError, match=r"Chat\['r'\] was dropped"):
        room.count = 1


def test_drop_reruns_the_readers(harness: Harness) -> None:
    room = Chat.get(key="r")
    harness.read_as("reader", room, "count")
    Chat.drop("r")
    assert harness.reruns("reader") == [None]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "a key cannot be empty"),
        (3, "a key is a str, not int"),
        ("x" * 201, "a key has at most 200 characters"),
        ("tab\there", "a key has no control characters"),
        ("new\nline", "a key has no control characters"),
    ],
)
def test_bad_keys_are_refused_with_a_message_a_page_can_show(key: Any, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason) as caught:
        Chat.get(key=key)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypedStateError)
    assert "is not a valid Chat key" in str(caught.value)
    assert Chat.keys() == []


def test_a_key_of_200_printable_characters_is_fine() -> None:
    Chat.get(key="é" * 199 + " ").count = 1
    assert len(Chat.keys()) == 1


class Private(SharedState):
    count: int = 0
    invited: ClassVar[set[str]] = {"team"}

    @classmethod
    def allow_key(cls, key: str) -> bool:
        return key in cls.invited


def test_allow_key_refines_the_rule() -> None:
    Private.get(key="team").count = 1
    with pytest.raises(KeyNotAllowedError, match="Private 'others' is not open to you") as caught:
        Private.get(key="others")
    assert isinstance(caught.value, PermissionError)
    assert (caught.value.state, caught.value.key) == ("Private", "others")
    with pytest.raises(KeyNotAllowedError):
        Private.drop("others")
    assert Private.keys() == ["team"]


# -- classes re-defined while the server runs ------------------------------------------


def _define(source: str) -> type[SharedState]:
    """Define a class the way a page script does on every run: anew, same name."""
    module = types.ModuleType("board_page")
    sys.modules["board_page"] = module
    exec(source, module.__dict__)
    cls: type[SharedState] = module.Board
    return cls


_BOARD_V1 = """
from pydantic import BaseModel, Field
from typed_state import SharedState

class Card(BaseModel):
    title: str

class Board(SharedState):
    cards: list[Card] = Field(default_factory=list)
    votes: int = 0
    name: str = "board"
"""


def test_redefined_class_keeps_the_values() -> None:
    first = _define(_BOARD_V1).get()
    first.update(votes=3, cards=[{"title": "a"}])
    second_cls = _define(_BOARD_V1)
    second = second_cls.get()
    assert type(second) is second_cls
    assert second.votes == 3
    # Cards made by the earlier class are accepted by the new one.
    second.cards = [*second.cards, {"title": "b"}]  # type: ignore[attr-defined]
    assert [c.title for c in second.cards] == ["a", "b"]  # type: ignore[attr-defined]


def test_an_equal_value_of_a_redefined_model_is_no_change(harness: Harness) -> None:
    # A page that declares its models: the rows stored by an earlier run's Card and
    # equal rows built by this run's are the same value.  Pydantic's == compares the
    # class, so each Save without edits stepped the version and re-ran every reader.
    board = _define(_BOARD_V1).get()
    board.update(cards=[{"title": "a"}])  # type: ignore[attr-defined]
    version = board.version("cards")
    newer = _define(_BOARD_V1).get()
    harness.read_as("reader", newer, "cards")
    newer.cards = [sys.modules["board_page"].Card(title="a")]  # type: ignore[attr-defined]
    newer.update(cards=[{"title": "a"}])  # type: ignore[attr-defined]
    assert newer.version("cards") == version
    assert harness.reruns("reader") == []
    newer.cards = [{"title": "b"}]  # type: ignore[attr-defined]
    assert harness.reruns("reader") == [None]


def test_items_made_by_an_earlier_class_can_be_appended_and_set() -> None:
    # A page that declares its models: a button's callback runs with the
    # previous run's classes, while another session's run has declared newer
    # ones; append() refused the earlier Card ("Input should be a valid
    # dictionary or instance of Card"), found by using a poll page in Chromium.
    earlier = _define(_BOARD_V1)
    card_v1 = sys.modules["board_page"].Card
    board = earlier.get()
    newer = _define(_BOARD_V1)
    card_v2 = sys.modules["board_page"].Card
    assert card_v1 is not card_v2
    board.append("cards", card_v1(title="a"))
    newer.get().append("cards", card_v1(title="b"), card_v2(title="c"))
    board.set_item("cards", 0, card_v1(title="A"))
    cards = newer.get().cards  # type: ignore[attr-defined]
    assert [c.title for c in cards] == ["A", "b", "c"]
    assert all(isinstance(c, card_v2) for c in cards)
    # What does not validate still says why, located in the field.
    with pytest.raises(ValidationError, match=r"cards\.3\.title"):
        board.append("cards", {"title": 5})


def test_schema_change_keeps_what_validates_and_warns_about_the_rest() -> None:
    old = _define(_BOARD_V1).get()
    old.update(votes=3, name="sprint", cards=[{"title": "a"}])
    changed = _define(
        _BOARD_V1.replace("votes: int = 0", "votes: float = 0.5").replace(
            'name: str = "board"', "name: int = 7\n    owner: str = 'ann'"
        )
    )
    with pytest.warns(SchemaChangedWarning) as caught:
        new = changed.get()
    message = str(caught[0].message)
    assert "reset to default: name (Input should be a valid integer" in message
    assert "votes" not in message
    assert "added: owner" in message
    assert new.votes == 3.0  # still validates: kept
    assert new.name == 7
    assert new.owner == "ann"  # type: ignore[attr-defined]
    assert [c.title for c in new.cards] == ["a"]  # type: ignore[attr-defined]


def test_removed_field_is_reported() -> None:
    _define(_BOARD_V1).get().votes = 2
    with pytest.warns(SchemaChangedWarning, match="removed: votes"):
        _define(_BOARD_V1.replace("    votes: int = 0\n", "")).get()


def test_added_field_alone_does_not_warn() -> None:
    _define(_BOARD_V1).get().votes = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state = _define(_BOARD_V1 + "    extra: int = 1\n").get()
    assert state.votes == 2


_TODOS_V1 = """
from pydantic import BaseModel, Field
from typed_state import SharedState

class Todo(BaseModel):
    text: str

class Board(SharedState):
    cards: list[Todo] = Field(default_factory=list)
    votes: int = 0
"""


def test_an_older_class_never_moves_the_schema_back() -> None:
    old_cls = _define(_BOARD_V1)
    old = old_cls.get()  # a worker thread took this one before the page was edited
    new_cls = _define(_BOARD_V1 + "    owner: str = 'ann'\n")
    new_cls.get().owner = "bob"  # type: ignore[attr-defined]
    for _ in range(3):  # the thread's get() with the old class, again and again
        assert old_cls.get().votes == 0
        assert new_cls.get().owner == "bob"  # type: ignore[attr-defined]
    old.votes = 4  # an old instance writes to the same values
    assert new_cls.get().votes == 4


def test_every_write_validates_against_the_newest_class() -> None:
    old = _define(_BOARD_V1).get()
    with pytest.warns(SchemaChangedWarning):
        _define(_BOARD_V1.replace('name: str = "board"', "name: int = 7")).get()
    with pytest.raises(ValidationError, match="valid integer"):
        old.name = "sprint"  # type: ignore[attr-defined]
    old.name = "12"  # type: ignore[attr-defined]
    assert _define(_BOARD_V1.replace('name: str = "board"', "name: int = 7")).get().name == 12


def test_a_nested_schema_edit_names_the_real_error_and_a_revert_restores() -> None:
    v1 = _TODOS_V1
    v2 = _TODOS_V1.replace("    text: str\n", "    text: str\n    prio: int\n")
    _define(v1).get().update(cards=[{"text": "milk"}, {"text": "eggs"}], votes=2)
    with pytest.warns(SchemaChangedWarning) as caught:
        edited = _define(v2).get()
    message = str(caught[0].message)
    assert "reset to default: cards (0.prio: Field required)" in message
    assert "valid dictionary or instance" not in message
    assert edited.cards == []  # type: ignore[attr-defined]
    assert edited.votes == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reverted = _define(v1).get()  # the edit taken back: the todos come back
    assert [c.text for c in reverted.cards] == ["milk", "eggs"]  # type: ignore[attr-defined]


def test_a_write_after_a_reset_drops_the_kept_value() -> None:
    v2 = _TODOS_V1.replace("    text: str\n", "    text: str\n    prio: int\n")
    _define(_TODOS_V1).get().cards = [{"text": "milk"}]  # type: ignore[attr-defined]
    with pytest.warns(SchemaChangedWarning):
        edited = _define(v2).get()
    edited.cards = [{"text": "new", "prio": 1}]  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reverted = _define(_TODOS_V1).get()  # the written value wins over the kept one
    assert [c.text for c in reverted.cards] == ["new"]  # type: ignore[attr-defined]


class _FailingRelease:
    """A field lock whose release raises once it is held (a lost Redis lease)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def acquire(self, timeout: float) -> bool:
        return self.lock.acquire(timeout=timeout)

    def release(self) -> None:
        self.lock.release()
        raise LockLostError("lost", state="Chat", field="count", lease=1.0)


def test_locked_releases_every_lock_even_when_a_release_raises() -> None:
    backend = MemoryBackend()
    failing = _FailingRelease()
    plain_lock = backend.lock
    backend.lock = lambda ns, name: failing if name == "title" else plain_lock(ns, name)  # type: ignore[method-assign]
    slot = _slot.Slot(Chat, "test-ns", None, backend)
    with pytest.raises(LockLostError), slot.locked(["count", "messages", "title"]):
        pass
    taken_elsewhere: list[bool] = []

    def other_thread() -> None:
        for name in ("count", "messages"):
            lock = backend.lock("test-ns", name)
            taken_elsewhere.append(lock.acquire(0.5))
            lock.release()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert taken_elsewhere == [True, True]


def test_reading_a_misspelt_field_is_a_field_name_error() -> None:
    """chat.cout raised a plain AttributeError: `except TypedStateError` missed it."""
    from typed_state import TypedStateError

    state = Chat.get()
    with pytest.raises(TypedStateError, match="Chat has no field 'cout'; its fields are"):
        _ = state.cout  # type: ignore[attr-defined]
    assert getattr(state, "cout", None) is None  # still an AttributeError for getattr()


def test_type_hints_resolve_on_every_public_class_and_user_classes() -> None:
    """typing.get_type_hints() raised NameError: 'Slot' on SharedState and every user
    subclass (autodoc and runtime checkers broke)."""
    import typing

    import typed_state

    assert typing.get_type_hints(Chat)["count"] is int
    failing = []
    for name in typed_state.__all__:
        member = getattr(typed_state, name)
        if isinstance(member, type) and name != "StateConfig":
            try:
                typing.get_type_hints(member)
            except Exception as exc:
                failing.append(f"{name}: {exc}")
    assert failing == []
    assert set(typing.get_type_hints(typed_state.WidgetBinding)) == {"key", "on_change"}


class Validated(SharedState):
    tags: list[str] = Field(default_factory=lambda: ["a", "b", "c"])
    index: dict[str, int] = Field(default_factory=dict)

    @field_validator("tags", "index")
    @classmethod
    def as_is(cls, value: Any) -> Any:
        return value


def test_item_errors_name_the_state_and_the_field_when_validators_force_whole_writes() -> None:
    """With a field_validator the item operations write the whole value, and their
    errors said '. has 3 items: no index 7' and a bare KeyError('zz')."""
    state = Validated.get()
    with pytest.raises(IndexError, match=r"^Validated\.tags has 3 items: no index 7$"):
        state.set_item("tags", 7, "x")
    with pytest.raises(KeyError, match=r"Validated\.index has no item 'zz'"):
        state.del_item("index", "zz")
