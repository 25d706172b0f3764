"""The state the widget test pages bind their widgets to."""

from pydantic import Field

from typed_state import SharedState


class Knob(SharedState):
    level: int = Field(3, ge=0, le=8)
    done: bool = False
    name: str = Field("ann", max_length=5)
    tags: list[str] = Field(default_factory=list)
