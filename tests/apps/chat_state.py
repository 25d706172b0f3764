"""States shared by the test apps (a module, as most apps keep them)."""

from pydantic import BaseModel, Field

from typed_state import SharedState


class Message(BaseModel):
    author: str
    text: str


class Room(SharedState):
    messages: list[Message] = Field(default_factory=list)
    count: int = Field(0, ge=0)
