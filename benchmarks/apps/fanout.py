"""Fan-out: a counter every session reads; one session clicks "inc"."""

import gc
import os

import streamlit as st

from benchmarks.apps import bench_gc

LIB = os.environ.get("BENCH_LIB", "typed_state")

if LIB == "typed_state":
    from benchmarks.apps.bench_states import Counter

    counter = Counter.get()

    def increment() -> None:
        with counter.lock("count"):
            counter.count += 1

    st.button("inc", on_click=increment)
    st.text(f"count={counter.count}")

elif LIB == "server_state":
    from streamlit_server_state import server_state, server_state_lock

    with server_state_lock["count"]:
        if "count" not in server_state:
            server_state["count"] = 0

    def increment() -> None:
        with server_state_lock["count"]:
            server_state["count"] += 1

    st.button("inc", on_click=increment)
    st.text(f"count={server_state['count']}")

else:
    from benchmarks.apps import bench_floor

    bench_floor.register()
    st.button("inc", on_click=bench_floor.increment_and_rerun_others)
    st.text(f"count={bench_floor.count}")

# Full collections so far, from gc.get_stats(): a callback would not see the calls that
# CPython skips while another thread collects.
st.text(f"gc2={gc.get_stats()[2]['collections']}")
st.text(f"gcms={bench_gc.full_ms():.1f}")
