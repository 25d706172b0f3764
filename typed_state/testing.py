"""Helpers for testing apps that use typed_state (with AppTest or without).

Under ``streamlit.testing.v1.AppTest`` there are no real sessions to re-run;
typed_state still stores, validates and locks, and records the re-runs it
would have pushed::

    from typed_state import testing

    def test_counter() -> None:
        testing.reset()
        at = AppTest.from_file("app.py").run()
        at.button[0].click().run()
        assert Counter.get().count == 1
"""

from __future__ import annotations

from typed_state import _gc, _journal, _presence
from typed_state._backends import reset_backends
from typed_state._config import settings
from typed_state._engine import RerunRecord, engine, use_engine
from typed_state._model import SharedState, reset_slots

__all__ = ["RerunRecord", "readers", "reruns", "reset"]


def reset() -> None:
    """Forget every state, value, subscription and setting of this process."""
    reset_slots()
    _presence.reset()
    _journal.reset()
    reset_backends()
    use_engine(None)
    settings.cache_clear()
    _gc.reset()


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
