# The part of streamlit.runtime.runtime that typed_state uses (typed_state/_streamlit.py).
# Checked against the installed Streamlit by tests/test_stubs.py (mypy's stubtest).
import asyncio

from streamlit.runtime.app_session import AppSession

# A NamedTuple at runtime; only its first field is used.
class AsyncObjects:
    eventloop: asyncio.AbstractEventLoop

class Runtime:
    @classmethod
    def instance(cls) -> Runtime: ...
    @classmethod
    def exists(cls) -> bool: ...
    def get_app_session(self, session_id: str) -> AppSession | None: ...
    def _get_async_objs(self) -> AsyncObjects: ...
