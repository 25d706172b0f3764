# The part of streamlit.runtime.runtime that typed_state uses (typed_state/_streamlit.py).
# Checked against the installed Streamlit by tests/test_stubs.py (mypy's stubtest);
# the names a release may lack, and what is used instead, are listed there.
import asyncio

from streamlit.runtime.app_session import AppSession
from streamlit.runtime.session_manager import SessionManager

# A NamedTuple at runtime; only its first field is used.
class AsyncObjects:
    eventloop: asyncio.AbstractEventLoop

class Runtime:
    # Set in __init__; before 1.67 (no get_app_session) sessions are found through it.
    _session_mgr: SessionManager
    @classmethod
    def instance(cls) -> Runtime: ...
    @classmethod
    def exists(cls) -> bool: ...
    # Since 1.67.
    def get_app_session(self, session_id: str) -> AppSession | None: ...
    def _get_async_objs(self) -> AsyncObjects: ...
