"""Binding a Streamlit widget to a field: one line, no loop, no lost edit.

A keyed Streamlit widget ignores a changed ``value=``, so the naive pattern
(``v = st.slider(..., value=state.level, key="k"); state.level = v``) writes
each session's own widget value back on every run, and two sessions re-run
each other for ever.  :meth:`SharedState.widget` instead

- copies the field into the session's widget state before the widget is drawn,
  only when they differ (so a push moves the widget, and a user's pending
  change is never overwritten by the value it is about to replace), and
- writes the field from the widget's ``on_change`` callback, that is only when
  the user changed it: validated, under the field's lock; a rejected value snaps
  back to the stored one and the error shows once, as a toast.

Only Streamlit's public API is used (``st.session_state``, ``st.toast``).
"""

from __future__ import annotations

from collections.abc import Callable  # noqa: TC003 - WidgetBinding's hints resolve at run time
from copy import deepcopy
from typing import TYPE_CHECKING, Any, TypedDict

import streamlit as st
from pydantic import ValidationError

from typed_state._change import differs
from typed_state._errors import StateDroppedError

if TYPE_CHECKING:
    from typed_state._model import SharedState


class WidgetBinding(TypedDict):
    """What :meth:`SharedState.widget` returns: keyword arguments for a widget call.

    ::

        st.slider("Level", 0, 10, **knob.widget("level"))
    """

    key: str
    on_change: Callable[[], None]


def bind(state: SharedState, field: str, key: str | None) -> WidgetBinding:
    """Sync the session's widget state from the field; the kwargs that write it back."""
    slot = state._slot()
    slot.check_fields(type(state), (field,))
    widget_key = key if key is not None else f"typed_state:{slot.namespace}.{field}"
    value = slot.read(field)  # binds this session (or fragment) to the field
    session = st.session_state
    if widget_key not in session or differs(session[widget_key], value):
        session[widget_key] = _plain(value)
    return {"key": widget_key, "on_change": _WriteBack(state, field, widget_key)}


class _WriteBack:
    """The ``on_change`` callback: the user changed the widget, so write the field.

    A class rather than a closure, so that two bindings of the same field and
    key compare equal (Streamlit compares a widget's arguments between runs).
    """

    __slots__ = ("field", "key", "state")

    def __init__(self, state: SharedState, field: str, key: str) -> None:
        self.state = state
        self.field = field
        self.key = key

    def __call__(self) -> None:
        value = st.session_state[self.key]
        try:
            setattr(self.state, self.field, value)
        except StateDroppedError:
            # Dropped (drop(), expiry, another process) between the run that drew the
            # widget and this change: nothing to write to; the page now runs with the
            # fresh member.  Say so rather than fail the session's run.
            title = self.state._slot().title
            st.toast(f"{title} was deleted meanwhile: your change was not saved.", icon="⚠️")
        except ValidationError as exc:
            stored = self.state._slot().values[self.field]
            st.session_state[self.key] = _plain(stored)  # snap back
            problem = exc.errors()[0]["msg"]
            st.toast(f"{self.state._slot().title}.{self.field}: {problem}", icon="⚠️")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _WriteBack)
            and other.state is self.state
            and (other.field, other.key) == (self.field, self.key)
        )

    def __hash__(self) -> int:
        return hash((id(self.state), self.field, self.key))

    def __repr__(self) -> str:
        return f"<write {self.key!r} back to {type(self.state).__name__}.{self.field}>"


def _plain(value: Any) -> Any:
    """A mutable copy for Streamlit to hold (widget state is the session's own)."""
    return deepcopy(value)
