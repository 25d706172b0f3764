"""Write storm: "start" launches a thread writing 100 times a second; pages show the value."""

import os
import threading
import time

import streamlit as st

LIB = os.environ.get("BENCH_LIB", "typed_state")
WRITES = int(os.environ.get("BENCH_STORM_WRITES", "500"))
INTERVAL = 0.01

if LIB == "typed_state":
    from benchmarks.apps.bench_states import Storm

    def read() -> int:
        return Storm.get().value

    def write(value: int) -> None:
        Storm.get().value = value

else:
    from streamlit_server_state import server_state, server_state_lock

    with server_state_lock["storm"]:
        if "storm" not in server_state:
            server_state["storm"] = 0

    def read() -> int:
        return int(server_state["storm"])

    def write(value: int) -> None:
        server_state["storm"] = value


def storm() -> None:
    """Write 1..WRITES every INTERVAL s, logging each write's wall-clock time as it goes."""
    start = time.monotonic()
    with open(os.environ["BENCH_OUT"], "w") as log:
        for i in range(1, WRITES + 1):
            delay = start + i * INTERVAL - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            write(i)
            log.write(f"{time.time()}\n")
            log.flush()


def start() -> None:
    threading.Thread(target=storm, name="storm", daemon=True).start()


st.button("start", on_click=start)
time.sleep(0.02)  # a page that does a little work
st.text(f"storm={read()}")
