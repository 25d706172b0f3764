"""Memory: each session keeps ~3 MB in reference cycles in its session state, and shows a
shared counter (so the library's sessions are tracked); the page also shows the frozen heap."""

import gc
import os

import streamlit as st

LIB = os.environ.get("BENCH_LIB", "typed_state")
MB_PER_SESSION = 3


class Node:
    """One link of a cycle: freed only by a collection, never by reference counting."""

    def __init__(self) -> None:
        self.payload = bytearray(64 * 1024)
        self.me = self


if "held" not in st.session_state:
    st.session_state["held"] = [Node() for _ in range(MB_PER_SESSION * 16)]

if LIB == "typed_state":
    from benchmarks.apps.bench_states import Counter
    from typed_state import _gc

    st.text(f"count={Counter.get().count}")
    stats = _gc.freezer().stats
    st.text(f"freezes={stats.freezes}")
    st.text(f"longest_ms={stats.longest_ms:.1f}")
else:
    from streamlit_server_state import server_state, server_state_lock

    with server_state_lock["count"]:
        if "count" not in server_state:
            server_state["count"] = 0
    st.text(f"count={server_state['count']}")
st.text(f"frozen={gc.get_freeze_count()}")
