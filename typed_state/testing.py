"""Helpers for testing apps that use typed_state (with AppTest or without).

Under ``streamlit.testing.v1.AppTest`` there are no real sessions to re-run;
typed_state still stores, validates and locks, and records the re-runs it
would have pushed:

```python
from typed_state import testing

def test_counter() -> None:
    testing.reset()
    at = AppTest.from_file("app.py").run()
    at.button[0].click()
    testing.run(at)  # the click's run, then the catch-up run a browser gets
    assert Counter.get().count == 1
    assert at.markdown[0].value == "`1`"  # st.write(counter.count)
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typed_state import _gc, _journal, _presence
from typed_state._config import settings
from typed_state._engine import RerunRecord, engine, use_engine
from typed_state._model import SharedState, reset_slots
from typed_state._open import reset_backends

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

__all__ = ["APPTEST_SESSION", "RerunRecord", "readers", "reruns", "reset", "run"]

APPTEST_SESSION = "test session id"
"""The session id of every script run under AppTest."""

_MAX_RUNS = 10
"""Runs ``run`` makes at most for one call (a page whose every run writes)."""


def reset() -> None:
    """Forget every state, value, subscription and setting of this process."""
    reset_slots()
    _presence.reset()
    _journal.reset()
    reset_backends()
    use_engine(None)
    settings.cache_clear()
    _gc.reset()


def run(at: AppTest, *, timeout: float | None = None) -> AppTest:
    """Run ``at`` and then the runs a browser's session would get: the writer's
    catch-up run (its page drew a value it then wrote, as with ``st.write(c.count)``
    above ``if st.button("+1"): c.count += 1``) and any run a write pushed to it
    meanwhile (a background thread's), until none is due.  Returns ``at``.

    ```python
    at.button[0].click()
    testing.run(at)
    assert at.markdown[0].value == "`1`"
    ```

    The re-runs it made stay listed by ``reruns``.
    """
    for _ in range(_MAX_RUNS):
        before = len(engine().take_recorded(clear=False))
        at.run(timeout=timeout)
        after = engine().take_recorded(clear=False)[before:]
        if not any(record.session_id == APPTEST_SESSION for record in after):
            break
    return at


def reruns() -> list[RerunRecord]:
    """The re-runs requested where no server could run them, oldest first.

    Under AppTest every script run has the session id ``"test session id"``;
    a write from a background thread, for instance, re-runs that session.
    Reading clears the list.
    """
    return engine().take_recorded()


def readers(state: object, field: str) -> set[str]:
    """The session ids bound to ``state``'s ``field`` by their latest runs."""
    if not isinstance(state, SharedState):
        raise TypeError(f"expected a SharedState instance, got {type(state).__name__}")
    slot = state._slot()
    return engine().readers((slot.namespace, field))


RerunRecord.__module__ = __name__  # shown as typed_state.testing.RerunRecord
