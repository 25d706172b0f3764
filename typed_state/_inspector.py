"""The inspector: a page that shows every shared state, its fields and the last writes.

The app adds it to its own navigation, so it is never reachable otherwise:

```python
st.navigation({"": pages, "Admin": [st.Page(typed_state.inspector, title="State")]})
```

Its live part is a fragment that re-runs once a second while the page is open
(and costs nothing while nobody has it open).  It reads the stored values
directly, so looking binds nothing: the inspector is not counted as present
and no write pushes it more often than that.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import streamlit as st
from pydantic import ValidationError

from typed_state import _journal, _members
from typed_state._backends._codec import codec_for
from typed_state._engine import engine
from typed_state._ids import StateId, key_of
from typed_state._log import Log
from typed_state._presence import shown_here

if TYPE_CHECKING:
    from typed_state._slot import Slot

_PAGE = 50
"""Items of a list (or a dict) shown per page."""

_LONG = 2_000
"""JSON longer than this (characters) is shown collapsed."""

_SHOWN = 20_000
"""Characters of a long value's JSON the page sends at most (it refreshes every second)."""

_MEMBERS = 50
"""Members of a family listed at most (filter to see others)."""


def inspector() -> None:
    """A page showing every shared state of the app: fields, values, versions, last
    writes, readers and presence, and the last 100 writes; with a field editor.

    Add it to your navigation, and keep it for administrators: it shows every value
    and can change any of them.  For instance:

    ```python
    def state_page() -> None:
        if st.user.email not in st.secrets["admins"]:
            st.error("Administrators only")
            st.stop()
        typed_state.inspector()

    st.navigation({"App": pages, "Admin": [st.Page(state_page, title="State")]})
    ```
    """
    st.title("Shared state")
    _editor()
    _live()


@st.fragment(run_every=1.0)
def _live() -> None:
    query = st.text_input("Filter", placeholder="class, key or field", key="_ts_filter")
    slots = _states(query)
    if not slots:
        st.info("No shared state matches." if query else "No shared state was used yet.")
    seen = shown_here()
    for slot in slots:
        present = len(seen.get(slot.namespace, []))
        fields = len(slot.cls.model_fields)
        label = (
            f"**{slot.title}** · {fields} field{'s' if fields != 1 else ''} · "
            f"{present} session{'s' if present != 1 else ''} showing it (all processes)"
        )
        with st.expander(label, expanded=len(slots) <= 3):
            _show(slot, query)
    st.subheader("Last writes")
    rows = [
        {
            "time": time.strftime("%H:%M:%S", time.localtime(w.at))
            + f".{int(w.at % 1 * 1000):03d}",
            "state": w.title,
            "field": w.field,
            "writer": w.writer,
            "before → after": f"{_short(w.before)} → {_short(w.after)}",
        }
        for w in _journal.writes()
    ]
    if rows:
        # A table, not a data grid: plain text that a page search (and a test) finds.
        st.table(rows)
    else:
        st.caption("No write since the server started.")


def _states(query: str) -> list[Slot]:
    """The states of this process, and every stored member of the families it uses."""
    found: dict[str, Slot] = {namespace: slot for namespace, slot in _members.slots()}
    for family in _members.families():
        cls = family.cls
        if cls is None:
            continue
        keys = [key_of(ns) or "" for ns in family.members.members(family.name)]
        if query:
            keys = [key for key in keys if query.lower() in key.lower()] or keys
        for key in keys[:_MEMBERS]:
            namespace = StateId(family.name, key).namespace
            if namespace not in found:
                found[namespace] = _members.slot_for(cls, key, use=False)
    slots = sorted(found.values(), key=lambda slot: slot.title)
    if query:
        q = query.lower()
        slots = [
            slot
            for slot in slots
            if q in slot.title.lower() or any(q in name.lower() for name in slot.cls.model_fields)
        ]
    return slots


def _show(slot: Slot, query: str) -> None:
    codec = codec_for(slot.cls)
    for name, info in slot.cls.model_fields.items():
        value = slot.values.get(name)
        version = slot.backend.version(slot.namespace, name)
        readers = len(engine().readers((slot.namespace, name)))
        write = slot.last_writes.get(name)
        when = (
            f"last write {_when(write.at)} by {write.writer}"
            if write is not None
            else "not written since the server started"
        )
        kind = _type_name(info.annotation)
        st.markdown(
            f"`{name}`: `{kind}` · version {version} · {when} · "
            f"read by {readers} session{'s' if readers != 1 else ''} of this process "
            "(their latest runs, this page's too)"
        )
        _value(slot, name, value, codec)


def _value(slot: Slot, name: str, value: Any, codec: Any) -> None:
    """A value as JSON: a long list or dict by pages, other long values collapsed."""
    if isinstance(value, list | dict | Log) and len(value) > _PAGE:
        pages = (len(value) + _PAGE - 1) // _PAGE
        page = st.number_input(
            f"{name}: page of {_PAGE} (of {pages}; {len(value)} items)",
            min_value=1,
            max_value=pages,
            value=1 if isinstance(value, dict) else pages,
            key=f"_ts_page_{slot.namespace}_{name}",
        )
        start = (int(page) - 1) * _PAGE
        if not isinstance(value, dict):
            part: Any = value[start : start + _PAGE]
            st.json(_jsonable(codec, name, part), expanded=1)
        else:
            chunk = dict(list(value.items())[start : start + _PAGE])
            st.json(_jsonable(codec, name, chunk), expanded=1)
        return
    text = _json_text(codec, name, value)
    if len(text) > _LONG:
        # Only the start: the page refreshes every second, and a 3 MB value would be
        # sent to the browser each time.
        shown = f"the first {_SHOWN:,} of " if len(text) > _SHOWN else ""
        with st.expander(f"{name}: {shown}{len(text):,} characters of JSON"):
            st.code(text[:_SHOWN], language="json")
    elif text.startswith(("{", "[")):
        st.json(text, expanded=1)
    else:
        # st.json draws only objects and arrays: in a browser a bare number,
        # string, true or null shows "src property must be a valid json object".
        st.code(text, language="json")


def _json_text(codec: Any, name: str, value: Any) -> str:
    try:
        text = str(codec.encode(name, value).decode())
    except Exception:  # no JSON form (memory backend), or a lone surrogate: its repr
        text = json.dumps(repr(value))
    return _printable(text)


def _printable(text: str) -> str:
    """``text`` with what the browser cannot be sent (a lone surrogate, ``"\\ud800"``)
    escaped: Streamlit fails to send such a string, and the page showed a traceback."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _jsonable(codec: Any, name: str, part: list[Any] | dict[Any, Any]) -> Any:
    try:
        return json.loads(codec.encode(name, part))
    except Exception:  # no JSON form (memory backend): each item's repr, still a list or dict
        if isinstance(part, dict):
            return {str(key): repr(item) for key, item in part.items()}
        return [repr(item) for item in part]


def _type_name(annotation: Any) -> str:
    """``int``, ``list[Message]``, ``str | None``: as the class declares it."""
    if isinstance(annotation, type):
        return annotation.__name__
    shown = repr(annotation).replace("typing.", "").replace("__main__.", "")
    return shown.replace("typed_state.", "")


def _when(at: float, *, milliseconds: bool = False) -> str:
    text = time.strftime("%H:%M:%S", time.localtime(at))
    return f"{text}.{int(at % 1 * 1000):03d}" if milliseconds else text


def _short(value: Any) -> str:
    if value is _journal.UNKNOWN:
        return "?"
    text = _printable(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


# -- editing ---------------------------------------------------------------------------------


def _editor() -> None:
    """Set a field from JSON, or drop a member of a family; each asks to confirm.

    The buttons act in their callbacks, before the page is drawn again: the
    question goes away with the answer, and what came of it shows once.
    """
    slots = _states("")
    if not slots:
        return
    with st.expander("Edit a field, or drop a member"):
        by_title = {slot.title: slot for slot in slots}
        title = st.selectbox("State", list(by_title), key="_ts_edit_state")
        slot = by_title[str(title)]
        fields = list(slot.cls.model_fields)
        name = str(st.selectbox("Field", fields, key=f"_ts_edit_field_{slot.namespace}"))
        current = _json_text(codec_for(slot.cls), name, slot.values.get(name))
        area = f"_ts_edit_{slot.namespace}_{name}"
        st.text_area("New value (JSON)", value=current, key=area)
        left, right = st.columns(2)
        left.button("Set this value…", key="_ts_set", on_click=_ask_to_set, args=(slot, name, area))
        if slot.key is not None:
            right.button(
                f"Drop {slot.title}…", key="_ts_drop", on_click=_ask, args=(slot, "drop", name, "")
            )
        outcome = st.session_state.pop("_ts_outcome", None)
        if outcome is not None:
            kind, message = outcome
            (st.success if kind == "success" else st.error)(message)
        pending = st.session_state.get("_ts_pending")
        if pending is not None and pending[1] == slot.namespace:
            _confirm(slot, pending)


def _ask(slot: Slot, action: str, name: str, text: str) -> None:
    st.session_state["_ts_pending"] = (action, slot.namespace, name, text)


def _ask_to_set(slot: Slot, name: str, area: str) -> None:
    """Ask to confirm a new value, once it is JSON at all (else say so at once)."""
    text = str(st.session_state.get(area, ""))
    try:
        json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        st.session_state.pop("_ts_pending", None)
        st.session_state["_ts_outcome"] = ("error", f"Not JSON: {exc}. Nothing was changed.")
        return
    _ask(slot, "set", name, text)


def _confirm(slot: Slot, pending: tuple[str, str, str, str]) -> None:
    action, _, name, text = pending
    question = (
        f"Set {slot.title}.{name} to {text[:80]}{'…' if len(text) > 80 else ''}?"
        if action == "set"
        else f"Drop {slot.title}? Every session showing it starts again from the defaults."
    )
    st.warning(question)
    yes, no = st.columns(2)
    no.button("Cancel", key="_ts_cancel", on_click=_answer, args=(slot, None))
    yes.button("Confirm", type="primary", key="_ts_confirm", on_click=_answer, args=(slot, pending))


def _answer(slot: Slot, pending: tuple[str, str, str, str] | None) -> None:
    """Cancel (``pending`` None) or carry out the confirmed action; the outcome shows next."""
    st.session_state.pop("_ts_pending", None)
    if pending is None:
        return
    action, _, name, text = pending
    st.session_state["_ts_outcome"] = _carry_out(slot, action, name, text)


def _carry_out(slot: Slot, action: str, name: str, text: str) -> tuple[str, str]:
    if action == "drop":
        assert slot.key is not None
        _members.drop(slot.cls, slot.key)
        return "success", f"Dropped {slot.title}."
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # checked when asked already
        return "error", f"Not JSON: {exc}. Nothing was changed."
    try:
        slot.assign(slot.cls, {name: value})
    except ValidationError as exc:  # also a value too deep for the store
        return "error", f"{slot.title}.{name} was not changed:\n\n```\n{exc}\n```"
    return "success", f"{slot.title}.{name} is set."
