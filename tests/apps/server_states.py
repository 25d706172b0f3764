"""States of the real-server test apps."""

from pydantic import Field

from typed_state import SharedState


class Counter(SharedState):
    count: int = Field(0, ge=0)
    other: int = 0
    storm: int = 0
    log: list[str] = Field(default_factory=list)


class Room(SharedState):
    count: int = 0
