"""Feedback that outlives the runs typed_state pushes: ``notice.success("Saved")``.

A page that draws a value and then writes it on a click (``st.write(c.count)`` above
``if st.button("+1"): c.count += 1``) gets one catch-up run so that it shows the new
value; that run does not take the click's branch, so an ``st.success("Saved!")``
drawn there vanishes at once.  The same happens to a losing writer's ``st.error``
when the winner's write pushes its page.  A notice is drawn where it is called, like
``st.success``, and drawn again in each later run of the session that typed_state
pushed (a catch-up, another writer's push), at the point where that run first uses
a state (``get()``), until a run the user starts: then it has been seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import streamlit as st

from typed_state import _streamlit
from typed_state._engine import engine

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_state._streamlit import Run

Kind = Literal["success", "info", "warning", "error", "toast"]

_KEY = "_typed_state_notices"
"""Where a session keeps its notices, in ``st.session_state``."""

_sessions_with_notices = 0
"""Sessions that were given a notice and have not seen it go (a fast path for ``get()``)."""


@dataclass
class _Notices:
    shown_in: object
    """Marker of the run that drew them last."""
    items: list[tuple[Kind, str, str | None]] = field(default_factory=list)


def _draw(kind: Kind, body: str, icon: str | None) -> None:
    draw: Callable[..., object] = getattr(st, kind)
    draw(body, icon=icon)


class _Notice:
    """The type of ``notice`` (documented there): messages kept through the runs
    typed_state pushes to this session."""

    __slots__ = ()

    def success(self, body: str, *, icon: str | None = None) -> None:
        """``st.success(body)``, kept through the runs typed_state pushes."""
        self._show("success", body, icon)

    def info(self, body: str, *, icon: str | None = None) -> None:
        """``st.info(body)``, kept through the runs typed_state pushes."""
        self._show("info", body, icon)

    def warning(self, body: str, *, icon: str | None = None) -> None:
        """``st.warning(body)``, kept through the runs typed_state pushes."""
        self._show("warning", body, icon)

    def error(self, body: str, *, icon: str | None = None) -> None:
        """``st.error(body)``, kept through the runs typed_state pushes."""
        self._show("error", body, icon)

    def toast(self, body: str, *, icon: str | None = None) -> None:
        """``st.toast(body)``, shown again in the runs typed_state pushes."""
        self._show("toast", body, icon)

    def _show(self, kind: Kind, body: str, icon: str | None) -> None:
        global _sessions_with_notices
        _draw(kind, body, icon)
        run = _streamlit.current_run()
        if run is None:
            return  # a thread of the app: no session of its own to keep it for
        notices = st.session_state.get(_KEY)
        if not isinstance(notices, _Notices):
            notices = _Notices(run.marker)
            st.session_state[_KEY] = notices
            _sessions_with_notices += 1
        if notices.shown_in is not run.marker:  # older notices were seen already
            notices.items.clear()
            notices.shown_in = run.marker
        notices.items.append((kind, body, icon))

    def __repr__(self) -> str:
        return "typed_state.notice"


notice = _Notice()
"""Feedback after a write that survives the runs typed_state pushes.

The writer's page gets a catch-up run after its write (it drew the old value), and
that run does not take the button's branch, so an ``st.success`` drawn there would
vanish at once.  ``notice.success(body)``, ``notice.info``, ``notice.warning``,
``notice.error`` and ``notice.toast`` draw like their ``st.`` namesakes (same
``body`` and keyword-only ``icon``), and again in each later run typed_state pushes
to this session, at that run's first ``get()``, until the user starts a run.  In a
thread of the app (no session) they only draw.

```python
if st.button("Save"):
    try:
        doc.update(text=draft, if_versions={"text": seen})
    except StaleWriteError:
        notice.error("Somebody saved first: nothing was saved.")
    else:
        notice.success("Saved.")
```
"""


def replay(run: Run) -> None:
    """At a run's first ``get()``: draw the session's notices again if typed_state
    pushed this run, or drop them if the user started it (they were seen)."""
    global _sessions_with_notices
    if not _sessions_with_notices or run.in_callback or run.fragment_only:
        return
    notices = st.session_state.get(_KEY)
    if not isinstance(notices, _Notices) or notices.shown_in is run.marker:
        return
    if not engine().pushed(run):
        del st.session_state[_KEY]
        _sessions_with_notices = max(0, _sessions_with_notices - 1)
        return
    notices.shown_in = run.marker
    for kind, body, icon in notices.items:
        _draw(kind, body, icon)
