"""The floor: re-run the reader sessions by calling Streamlit directly, no library.

A module (not the page script) so that its globals live as long as the server.
"""

import threading

from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

count = 0
_sessions: set[str] = set()
_lock = threading.Lock()


def register() -> None:
    """Remember the current session as a reader."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _lock:
            _sessions.add(ctx.session_id)


def increment_and_rerun_others() -> None:
    """The write, then one request_rerun per other live session: the least work possible."""
    global count
    ctx = get_script_run_ctx()
    me = ctx.session_id if ctx else None
    with _lock:
        count += 1
        others = [sid for sid in _sessions if sid != me]
    runtime = Runtime.instance()
    for sid in others:
        session = runtime.get_app_session(sid)
        if session is None:
            with _lock:
                _sessions.discard(sid)
            continue
        client_state = ClientState()
        client_state.CopyFrom(session._client_state)
        session.request_rerun(client_state)
