"""Binding a Streamlit widget to a field: one line, no loop, no lost edit.

A keyed Streamlit widget ignores a changed ``value=``, so the naive pattern
(``v = st.slider(..., value=state.level, key="k"); state.level = v``) writes
each session's own widget value back on every run, and two sessions re-run
each other for ever.  ``SharedState.widget`` instead

- copies the field into the session's widget state before the widget is drawn,
  only when they differ (so a push moves the widget, and a user's pending
  change is never overwritten by the value it is about to replace), and
- writes the field from the widget's ``on_change`` callback, that is only when
  the user changed it: validated, under the field's lock; a rejected value snaps
  back to the stored one and the error shows once, as a toast.

Inside ``with st.form(...)`` a widget may have no ``on_change`` (only the submit
button may): there the binding gives none, and the submission writes instead.  The
first binding of a form in the run after a submit writes every bound field the user
changed as one ``update()`` per state (validated together, all or nothing); a
rejected value is said once and stays in the form for the user to correct.  A form's
widget follows a field whenever the field's version moves (a push, or the write).

Streamlit's public API (``st.session_state``, ``st.toast``), and ``_streamlit`` for
which form a widget lands in.
"""

from __future__ import annotations

from collections.abc import Callable  # noqa: TC003 - WidgetBinding's hints resolve at run time
from typing import TYPE_CHECKING, Any, TypedDict

import streamlit as st
from pydantic import ValidationError

from typed_state import _streamlit
from typed_state._change import differs
from typed_state._errors import StateDroppedError
from typed_state._readonly import editable

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from typed_state._model import SharedState


class WidgetBinding(TypedDict):
    """What ``SharedState.widget`` returns: keyword arguments for a widget call.

    ```python
    st.slider("Level", 0, 10, **knob.widget("level"))
    ```
    """

    key: str
    """The widget's key in ``st.session_state``: ``key=`` as given to ``widget()``, else
    one made from the state and the field."""
    on_change: Callable[[], None] | None
    """Writes the field when the user changes the widget; None inside ``st.form``, where
    the submission writes."""


def bind(state: SharedState, field: str, key: str | None) -> WidgetBinding:
    """Sync the session's widget state from the field; the kwargs that write it back."""
    slot = state._slot()
    slot.check_fields(type(state), (field,))
    widget_key = key if key is not None else f"typed_state:{slot.namespace}.{field}"
    form = _streamlit.current_form()
    if form:
        return _in_form(form, state, field, widget_key)
    value = slot.read(field)  # binds this session (or fragment) to the field
    session = st.session_state
    if widget_key not in session or differs(session[widget_key], value):
        session[widget_key] = _plain(value)
    return {"key": widget_key, "on_change": _WriteBack(state, field, widget_key)}


_FORMS = "typed_state:forms"
"""The session-state key of this session's forms (id -> ``_Form``)."""


class _Form:
    """One ``st.form`` of a session: its bound widgets and what typed_state put in them."""

    __slots__ = ("bindings", "marker", "seen", "shown")

    def __init__(self) -> None:
        self.marker: object = None
        """The run that last drew the form."""
        self.bindings: dict[str, tuple[SharedState, str]] = {}
        """Widget key -> the state and field it shows, as that run drew them."""
        self.shown: dict[str, tuple[int, Any]] = {}
        """Widget key -> the field's version and value typed_state last put in the widget:
        the user changed the widget if it holds another value."""
        self.seen: dict[str, Any] = {}
        """Widget key -> the value the widget held in the run that last drew the form: a
        submission brings another (a browser sends a form's values only when submitted)."""


def _in_form(form: str, state: SharedState, field: str, key: str) -> WidgetBinding:
    session = st.session_state
    forms: dict[str, _Form] = session.setdefault(_FORMS, {})
    record = forms.setdefault(form, _Form())
    run = _streamlit.current_run()
    marker = run.marker if run is not None else None
    if record.marker is not marker or marker is None:
        # The form's first widget in this run: a submission brought the user's values.
        record.marker = marker
        _submit(record)
        record.bindings = {}
    record.bindings[key] = (state, field)
    version = state.version(field)  # binds this session (or fragment) to the field
    shown = record.shown.get(key)
    if key not in session or shown is None or shown[0] != version:
        # New, or the field moved (a push, or this submission's write): show the field.
        # Otherwise the widget keeps what the user gave, a rejected value too.
        value = _plain(state._slot().values[field])
        session[key] = value
        record.shown[key] = (version, _plain(value))
    record.seen[key] = _plain(session[key])
    return {"key": key, "on_change": None}


def _submit(record: _Form) -> None:
    """Write what the user changed in the form's widgets, if a submission brought new
    values (a rejected one is not written, nor said, again on every run): one update
    per state, of every widget that holds another value than typed_state put there."""
    session = st.session_state
    bound = [key for key in record.bindings if key in session and key in record.shown]
    if not any(key not in record.seen or differs(session[key], record.seen[key]) for key in bound):
        return
    changes: dict[int, tuple[SharedState, dict[str, Any]]] = {}
    for key in bound:
        if differs(session[key], record.shown[key][1]):
            state, field = record.bindings[key]
            changes.setdefault(id(state), (state, {}))[1][field] = session[key]
    for state, values in changes.values():
        try:
            state.update(**values)
        except StateDroppedError:
            title = state._slot().title
            st.toast(f"{title} was deleted meanwhile: your changes were not saved.", icon="⚠️")
        except ValidationError as exc:
            problems = "; ".join(_reason(error) for error in exc.errors())
            st.toast(f"{state._slot().title} not saved: {problems}", icon="⚠️")


def _reason(error: ErrorDetails, *, located: bool = True) -> str:
    """One validation error as a person reads it: a validator's own text without
    Pydantic's "Value error, " prefix, after the field it is about (none for a model
    validator).  A form said "Settings: not saved: : Value error, <text>"."""
    raised = error.get("ctx", {}).get("error")
    text = str(raised) if isinstance(raised, ValueError | AssertionError) else error["msg"]
    where = ".".join(map(str, error["loc"])) if located else ""
    return f"{where}: {text}" if where else text


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
            problem = _reason(exc.errors()[0], located=False)
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
    return editable(value)
