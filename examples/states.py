"""The shared states of the demo: declared once, imported by every page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from typed_state import SharedState


class Counter(SharedState):
    """A global click counter."""

    count: int = Field(0, ge=0)


class Dial(SharedState):
    """One slider that every session moves together."""

    value: int = Field(50, ge=0, le=100)


class Message(BaseModel):
    author: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)
    sent: datetime = Field(default_factory=datetime.now)


class Chat(SharedState):
    """A chat; ``Chat.get()`` is the lobby, ``Chat.get(key=name)`` a room."""

    messages: list[Message] = Field(default_factory=list)


class Job(SharedState):
    """A background job that a worker thread advances."""

    running: bool = False
    progress: int = Field(0, ge=0, le=100)
    log: list[str] = Field(default_factory=list)
