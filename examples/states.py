"""The shared states of the demo: declared once, imported by every page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from typed_state import SharedState, StateConfig


class Counter(SharedState):
    """A global click counter."""

    count: int = Field(0, ge=0)


class Dial(SharedState):
    """One slider that every session moves together."""

    value: int = Field(50, ge=0, le=100)


class Todo(SharedState):
    """One item of the todo list: ``Todo.get(key=item_id)``."""

    text: str = Field("", max_length=200)
    done: bool = False


class TodoList(SharedState):
    """The order of the todo items (their ids)."""

    items: list[str] = Field(default_factory=list)


class Document(SharedState):
    """A text several people edit; a save is refused if somebody saved meanwhile."""

    text: str = Field("Write here.", max_length=20_000)


class Row(BaseModel):
    item: str = Field(min_length=1, max_length=40)
    qty: int = Field(1, ge=0)


class Table(SharedState):
    """A table that several people edit with st.data_editor."""

    rows: list[Row] = Field(
        default_factory=lambda: [Row(item="apples", qty=3), Row(item="pears", qty=1)]
    )


class Message(BaseModel):
    author: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)
    sent: datetime = Field(default_factory=datetime.now)


class Chat(SharedState):
    """A chat; ``Chat.get()`` is the lobby, ``Chat.get(key=name)`` a room.

    Rooms nobody has used for a week go, and the 100 most recently used stay.
    """

    model_config = StateConfig(typed_state_ttl=7 * 24 * 3600, typed_state_max_keys=100)

    messages: list[Message] = Field(default_factory=list)


class Job(SharedState):
    """A background job that a worker thread advances."""

    running: bool = False
    progress: int = Field(0, ge=0, le=100)
    log: list[str] = Field(default_factory=list)
