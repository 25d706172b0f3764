"""The inspector on values it must not send whole or cannot send as they are."""

import typed_state
from typed_state import SharedState


class Big(SharedState):
    text: str = ""
    odd: str = ""


big = Big.get()
big.text = "x" * 3_000_000
big.odd = "\ud800 lone surrogate"
typed_state.inspector()
