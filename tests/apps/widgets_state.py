"""The state the widget test pages bind their widgets to."""

import datetime

from pydantic import Field, model_validator

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


class Settings(SharedState):
    """A settings panel edited through an st.form (tests/apps/form_page.py)."""

    title: str = "room"
    max_users: int = Field(10, ge=1, le=50)
    size: str = "M"
    public: bool = False
    level: int = 3

    @model_validator(mode="after")
    def _public_needs_a_title(self) -> "Settings":
        if self.public and not self.title:
            raise ValueError("a public room needs a title")
        return self
