"""The inspector page, with a few states to look at."""

from pydantic import Field

import typed_state
from typed_state import Log, SharedState


class Stock(SharedState):
    count: int = Field(0, ge=0)
    items: list[int] = Field(default_factory=lambda: list(range(120)))
    events: Log[int] = Log(range(70))


class Shelf(SharedState):
    label: str = ""


Stock.get()
Shelf.get(key="top").label = "books"
typed_state.inspector()
