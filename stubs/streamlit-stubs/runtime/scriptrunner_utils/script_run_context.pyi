# The part of streamlit.runtime.scriptrunner_utils.script_run_context that typed_state
# uses (typed_state/_streamlit.py).
# Checked against the installed Streamlit by tests/test_stubs.py (mypy's stubtest);
# the names a release may lack, and what is used instead, are listed there.
from typing import Any

from streamlit.runtime.pages_manager import PagesManager

# Since 1.58 (parallel fragments).
class FragmentThreadState:
    fragment_id: str | None
    is_parallel_worker: bool

class ThreadState:
    @staticmethod
    def get() -> FragmentThreadState: ...

class ScriptRunContext:
    session_id: str
    cursors: dict[int, Any]
    fragment_ids_this_run: list[str] | None
    pages_manager: PagesManager
    @property
    def page_script_hash(self) -> str: ...
    _has_script_started: bool
    # Until 1.57; ThreadState.get().fragment_id since 1.58.
    current_fragment_id: str | None
    # Since 1.63.
    @property
    def has_script_started(self) -> bool: ...

def get_script_run_ctx(suppress_warning: bool = False) -> ScriptRunContext | None: ...
