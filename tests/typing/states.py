"""States the typing snippets use."""

from pydantic import BaseModel, Field

from typed_state import Log, SharedState


class Message(BaseModel):
    author: str
    text: str


class Chat(SharedState):
    count: int = Field(0, ge=0)
    title: str = "general"
    messages: list[Message] = Field(default_factory=list)
    scores: dict[str, int] = Field(default_factory=dict)
    history: Log[Message] = Log()


class Room(Chat):
    topic: str | None = None
