"""The one module that touches Streamlit internals.

Everything typed_state needs from Streamlit beyond its public API is here, typed
by ``stubs/`` and checked against the installed Streamlit by stubtest, so that a
Streamlit upgrade that moves an internal is one place to fix.  What is used:

- ``get_script_run_ctx()`` (the current run's context: session id, whether the
  script body has started, the fragments this run re-runs) and
  ``ThreadState.get().fragment_id`` (the fragment being executed);
- ``ScriptRunContext.cursors``: a dict that Streamlit replaces at the start of
  every run and of every queued fragment run.  Its identity is our run marker:
  bindings made under an older marker belong to an older run;
- ``Runtime.get_app_session()`` (public, thread-safe) and the runtime's event
  loop (private ``_get_async_objs().eventloop``), because ``AppSession`` must
  only be driven from that loop;
- ``form_utils.current_form_id(st._main)``: the ``st.form`` whose ``with`` block a
  widget drawn now through ``st.*`` lands in, since a widget in a form may have no
  ``on_change``;
- ``AppSession.track_settling()`` and ``is_settled`` (no run pending or running,
  and every message of the last run delivered), ``has_fragment``, ``request_rerun`` and the private
  ``_client_state`` (the page and query string the session is on).

Supported: Streamlit 1.50 to the newest.  Where an older release lacks one of
these, the feature (never the version string) is detected once at import and
a fallback with the same behaviour is used (see ``FALLBACKS``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit import config as _st_config
from streamlit.elements.lib import form_utils as _form_utils
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime import app_session as _app_session
from streamlit.runtime import runtime as _runtime
from streamlit.runtime.scriptrunner_utils import script_run_context as _run_context

if TYPE_CHECKING:
    from collections.abc import Callable

    from streamlit.runtime.app_session import AppSession

OLDEST = (1, 50)
"""The oldest Streamlit release typed_state supports."""


def _release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


if _release(st.__version__) < OLDEST:
    raise ImportError(
        f"typed_state supports Streamlit {OLDEST[0]}.{OLDEST[1]} and newer; "
        f"Streamlit {st.__version__} is installed. "
        f"Upgrade it: pip install 'streamlit>={OLDEST[0]}.{OLDEST[1]}'"
    )

Runtime = _runtime.Runtime
get_script_run_ctx = _run_context.get_script_run_ctx
_ThreadState: type[_run_context.ThreadState] | None = getattr(_run_context, "ThreadState", None)
_HAS_STARTED = (
    "has_script_started"
    if hasattr(_run_context.ScriptRunContext, "has_script_started")
    else "_has_script_started"
)
_HAS_SETTLING = hasattr(_app_session.AppSession, "track_settling")
_HAS_FRAGMENT_CHECK = hasattr(_app_session.AppSession, "has_fragment")
_HAS_GET_APP_SESSION = hasattr(Runtime, "get_app_session")

FALLBACKS: dict[str, str] = {
    name: fallback
    for name, fallback, present in (
        (
            "ThreadState.get().fragment_id (1.58)",
            "ScriptRunContext.current_fragment_id",
            _ThreadState is not None,
        ),
        (
            "ScriptRunContext.has_script_started (1.63)",
            "ScriptRunContext._has_script_started",
            _HAS_STARTED == "has_script_started",
        ),
        (
            "AppSession.track_settling/is_settled (1.67)",
            "no ScriptRunner and an empty browser queue",
            _HAS_SETTLING,
        ),
        (
            "AppSession.has_fragment (1.67)",
            "AppSession._fragment_storage.contains",
            _HAS_FRAGMENT_CHECK,
        ),
        (
            "Runtime.get_app_session (1.67)",
            "Runtime._session_mgr.get_active_session_info",
            _HAS_GET_APP_SESSION,
        ),
    )
    if not present
}
"""The internals this Streamlit lacks (with the release that brought them) -> what is
used instead.  Empty on the newest releases."""


class Run:
    """Where the current code runs, as far as subscriptions are concerned.

    A plain slotted class rather than a frozen dataclass: one is needed on every
    field read, and a frozen dataclass costs several times more to build.
    """

    __slots__ = ("fragment_id", "fragment_only", "in_callback", "marker", "page", "session_id")

    def __init__(
        self,
        session_id: str,
        marker: object,
        fragment_id: str | None,
        fragment_only: bool,
        in_callback: bool,
        page: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.marker = marker
        """Identity of the current script run (or queued fragment run)."""
        self.fragment_id = fragment_id
        """The innermost ``st.fragment`` being executed, None outside fragments."""
        self.fragment_only = fragment_only
        """True when this run re-runs fragments only, not the whole page."""
        self.in_callback = in_callback
        """True inside widget callbacks, before the script body starts."""
        self.page = page
        """The page (script hash) this run runs, as it stood when the run first used a
        state; None when that was in the main script of an ``st.navigation`` app, which
        every page runs."""

    def __repr__(self) -> str:
        return (
            f"Run(session_id={self.session_id!r}, fragment_id={self.fragment_id!r}, "
            f"fragment_only={self.fragment_only}, in_callback={self.in_callback})"
        )


_LAST_RUN = threading.local()
"""The Run last built in this thread: reused while the thread is in the same run."""

_SCRIPT_THREAD = "ScriptRunner.scriptThread"
"""The name Streamlit's ScriptRunner gives the thread that runs a session's script."""


def _is_script_thread() -> bool:
    """Whether this thread runs a session's script (or one of its parallel fragments).

    A thread the app starts and hands the session's context to
    (``add_script_run_ctx``, the usual advice for threads that call ``st.*``)
    is the app's own: its reads bind nothing and its writes are nobody's.
    """
    known: bool | None = getattr(_LAST_RUN, "script_thread", None)
    if known is None:
        known = threading.current_thread().name == _SCRIPT_THREAD
        _LAST_RUN.script_thread = known
    if known or _ThreadState is None:  # no parallel fragments before 1.58
        return known
    try:
        return _ThreadState.get().is_parallel_worker
    except RuntimeError:
        return False


def _fragment_id(ctx: _run_context.ScriptRunContext) -> str | None:
    """The innermost ``st.fragment`` the calling thread executes, None outside fragments."""
    if _ThreadState is None:
        return ctx.current_fragment_id
    try:
        return _ThreadState.get().fragment_id
    except RuntimeError:
        return None


def current_run() -> Run | None:
    """The script run of the calling thread, or None in a thread of its own."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return None
    fragment_id = _fragment_id(ctx)
    marker = ctx.cursors
    in_callback = not getattr(ctx, _HAS_STARTED)
    last: Run | None = getattr(_LAST_RUN, "run", None)
    # The cached Run holds the marker, so an identical marker is the same run
    # (and only a script thread ever caches one: the hot path skips the check).
    if (
        last is not None
        and last.marker is marker
        and last.fragment_id == fragment_id
        and last.in_callback == in_callback
    ):
        return last
    if not _is_script_thread():
        return None
    page: str | None = ctx.page_script_hash
    if page == ctx.pages_manager.main_script_hash:
        page = None  # the main script: part of every page of an st.navigation app
    run = Run(
        session_id=ctx.session_id,
        marker=marker,
        fragment_id=fragment_id,
        fragment_only=bool(ctx.fragment_ids_this_run),
        in_callback=in_callback,
        page=page,
    )
    _LAST_RUN.run = run
    return run


def current_form() -> str:
    """The id of the ``st.form`` whose ``with`` block the calling code runs in; "" outside
    one (a widget drawn now goes there)."""
    # The main container resolves Streamlit's stack of `with` blocks (st.sidebar, a form).
    return _form_utils.current_form_id(st._main)


def in_app_test() -> bool:
    """True under ``streamlit.testing.v1.AppTest``, where there are no real sessions."""
    return bool(_st_config.get_option("global.appTest"))


class SessionView:
    """One live session, seen from the runtime's event loop (and only from it)."""

    __slots__ = ("_session",)

    def __init__(self, session: AppSession) -> None:
        self._session = session

    @property
    def settled(self) -> bool:
        """No run is running or queued and the last run's output is delivered."""
        session = self._session
        if not _HAS_SETTLING:
            # Before 1.67 the same facts, read where Streamlit keeps them: the
            # ScriptRunner is dropped (on this loop) once its run chain is over, and
            # the loop empties the browser queue when it sends the messages.
            return session._scriptrunner is None and session._browser_queue.is_empty()
        try:
            return session.is_settled
        except RuntimeError:
            # Streamlit tracks settling only on request; sessions we re-run
            # start tracking the first time we look.
            session.track_settling()
            return session.is_settled

    @property
    def page(self) -> str:
        """The page the browser last asked for: its script hash ("" for the default page)."""
        return str(self._session._client_state.page_script_hash)

    def has_fragment(self, fragment_id: str) -> bool:
        """Whether the session still holds this fragment (a full run may drop it)."""
        if not _HAS_FRAGMENT_CHECK:
            return self._session._fragment_storage.contains(fragment_id)
        return self._session.has_fragment(fragment_id)

    def rerun(self, fragment_id: str | None) -> None:
        """Re-run the page the session is on, or one of its fragments.

        Only called on a settled session, so no request of the browser is queued
        that this one could replace: the run starts from the widget values the
        session already holds, on its page and query string.
        """
        client_state = ClientState()
        client_state.CopyFrom(self._session._client_state)
        client_state.fragment_id = fragment_id or ""
        client_state.is_auto_rerun = False
        self._session.request_rerun(client_state)


class Sessions:
    """Access to the live sessions of the running Streamlit server."""

    def __init__(self, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
        self._runtime = runtime
        self._loop = loop

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool:
        """Run ``callback`` on the runtime's event loop after ``delay`` seconds.

        Returns False when the loop is gone (server shutting down).
        """
        loop = self._loop
        if loop.is_closed():
            return False
        try:
            if delay <= 0:
                loop.call_soon_threadsafe(callback)
            else:
                loop.call_soon_threadsafe(loop.call_later, delay, callback)
        except RuntimeError:  # the loop closed between the check and the call
            return False
        return True

    def run_soon(self, callback: Callable[[], None], *, wait: float) -> bool:
        """Run ``callback`` on the event loop; block up to ``wait`` s until it ran.

        The wait is skipped on the loop's own thread (it would wait for itself).
        Returns False when the loop is gone.
        """
        done = threading.Event()

        def run() -> None:
            try:
                callback()
            finally:
                done.set()

        if not self.call_later(0, run):
            return False
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if wait > 0 and not on_loop:
            done.wait(wait)
        return True

    def alive(self) -> set[str]:
        """The ids of the server's live sessions."""
        return {info.session.id for info in self._runtime._session_mgr.list_active_sessions()}

    def quiet(self) -> bool:
        """No live session has a run running or queued (read on the event loop)."""
        return all(
            SessionView(info.session).settled
            for info in self._runtime._session_mgr.list_active_sessions()
        )

    def get(self, session_id: str) -> SessionView | None:
        """The live session with this id; None if it closed or disconnected."""
        if _HAS_GET_APP_SESSION:
            session = self._runtime.get_app_session(session_id)
        else:
            info = self._runtime._session_mgr.get_active_session_info(session_id)
            session = None if info is None else info.session
        return None if session is None else SessionView(session)


def in_server() -> bool:
    """Whether this process runs a Streamlit server (``streamlit run``), started or starting."""
    return Runtime.exists()


def sessions() -> Sessions | None:
    """The running server's sessions, or None (no server, or under AppTest)."""
    if in_app_test() or not Runtime.exists():
        return None
    runtime = Runtime.instance()
    try:
        loop = runtime._get_async_objs().eventloop
    except RuntimeError:  # the runtime exists but has not started yet
        return None
    return Sessions(runtime, loop)


def warn_in_page(message: str) -> None:
    """Show ``message`` as a warning in the page of the current script run, if any."""
    if current_run() is None:
        return
    st.warning(message, icon="⚠️")


def secrets_section(name: str) -> dict[str, Any]:
    """The ``[name]`` table of Streamlit's secrets.toml, empty when there is none.

    ``st.secrets`` is read only when a secrets file exists: reading it starts a
    watcher that polls the files for the server's lifetime.
    """
    files = _st_config.get_option("secrets.files") or []
    if not in_app_test() and not any(os.path.exists(path) for path in files):
        return {}
    try:
        section = st.secrets.get(name)
    except Exception:  # no secrets file at all: Streamlit raises rather than returning
        return {}
    if section is None:
        return {}
    return dict(section)
