"""A dashboard whose full run costs ~200 ms of CPU; the shared value sits in an st.fragment."""

import os
import time

import streamlit as st

LIB = os.environ.get("BENCH_LIB", "typed_state")

if LIB == "typed_state":
    from benchmarks.apps.bench_states import Dashboard

    def read() -> int:
        return Dashboard.get().value

    def bump() -> None:
        state = Dashboard.get()
        with state.lock("value"):
            state.value += 1

else:
    from streamlit_server_state import server_state, server_state_lock

    with server_state_lock["value"]:
        if "value" not in server_state:
            server_state["value"] = 0

    def read() -> int:
        return int(server_state["value"])

    def bump() -> None:
        with server_state_lock["value"]:
            server_state["value"] += 1


def expensive_page(seconds: float = 0.2) -> None:
    """The rest of the page (queries, charts...) as CPU work: a sleeping page would
    release the GIL and hide what re-running an expensive page costs."""
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        total += sum(range(1000))


st.button("bump", on_click=bump)
expensive_page()
st.text("page body")


@st.fragment
def panel() -> None:
    st.text(f"value={read()}")


panel()
