"""The typed_state side of the benchmark apps: one small class per scenario."""

from pydantic import BaseModel, Field

from typed_state import Log, SharedState


class Counter(SharedState):
    count: int = 0


class Room(SharedState):
    messages: list[str] = Field(default_factory=list)


class Dashboard(SharedState):
    value: int = 0


class Storm(SharedState):
    value: int = 0


class Hot(SharedState):
    value: int = 0
    one: list[int] = Field(default_factory=lambda: [0])
    big: list[int] = Field(default_factory=lambda: list(range(10_000)))


class Msg(BaseModel):
    author: str
    text: str


class BigChat(SharedState):
    messages: list[Msg] = Field(default_factory=list)


class BigLog(SharedState):
    messages: Log[Msg] = Log()
