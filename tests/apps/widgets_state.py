"""The state the widget test pages bind their widgets to."""

import datetime

from pydantic import Field

from typed_state import SharedState


class Knob(SharedState):
    level: int = Field(3, ge=0, le=8)
    done: bool = False
    name: str = Field("ann", max_length=5)
    tags: list[str] = Field(default_factory=list)


class Form(SharedState):
    size: str = "M"
    color: str = "red"
    shape: str = "circle"
    qty: int = Field(1, ge=0)
    notes: str = ""
    day: datetime.date = datetime.date(2026, 1, 1)
    at: datetime.time = datetime.time(9, 0)
    paint: str = "#ff0000"
    on: bool = False
    fruit: str | None = "apple"
    mode: str | None = "a"
