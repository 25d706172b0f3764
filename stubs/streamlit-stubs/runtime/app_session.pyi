# The part of streamlit.runtime.app_session that typed_state uses (typed_state/_streamlit.py).
# Checked against the installed Streamlit by tests/test_stubs.py (mypy's stubtest);
# the names a release may lack, and what is used instead, are listed there.
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.runtime.fragment import FragmentStorage
from streamlit.runtime.scriptrunner import ScriptRunner

class AppSession:
    # Set in __init__, so stubtest cannot see them; tests/test_stubs.py checks them
    # on the class's source.
    _client_state: ClientState
    id: str
    # Before 1.67 (no settling tracking, no has_fragment): read directly.
    _scriptrunner: ScriptRunner | None
    _browser_queue: ForwardMsgQueue
    _fragment_storage: FragmentStorage
    # Since 1.67.
    def track_settling(self) -> None: ...
    @property
    def is_settled(self) -> bool: ...
    def has_fragment(self, fragment_id: str) -> bool: ...
    def request_rerun(self, client_state: ClientState | None) -> None: ...
