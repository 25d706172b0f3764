"""Hot path, inside a real script run: reads and writes of one field, timed in process.

Reads are assigned to `_`: a bare expression would be drawn by Streamlit's "magic".
"""

import os
import time
from collections.abc import Callable

import streamlit as st

from benchmarks.apps import bench_results

LIB = os.environ.get("BENCH_LIB", "typed_state")
N = int(os.environ.get("BENCH_HOT_N", "200000"))


def timed(loop: Callable[[int], None], n: int) -> float:
    start = time.perf_counter()
    loop(n)
    return n / (time.perf_counter() - start)


if not bench_results.results:
    if LIB == "typed_state":
        from benchmarks.apps.bench_states import Hot

        state = Hot.get()
        _ = state.value  # this session is now bound to the field

        def reads(n: int) -> None:
            for _ in range(n):
                _ = state.value

        def writes(n: int) -> None:
            for i in range(n):
                state.value = i

        _bound = state.one, state.big  # bound to both fields

        def reads_one(n: int) -> None:
            for _ in range(n):
                _ = state.one

        def reads_big(n: int) -> None:
            for _ in range(n):
                _ = state.big

    elif LIB == "server_state":
        from streamlit_server_state import server_state

        server_state["hot"] = 0
        _ = server_state["hot"]  # this session is now bound to the item

        def reads(n: int) -> None:
            for _ in range(n):
                _ = server_state["hot"]

        def writes(n: int) -> None:
            for i in range(n):
                server_state["hot"] = i

        server_state["one"] = [0]
        server_state["big"] = list(range(10_000))
        _bound = server_state["one"], server_state["big"]

        def reads_one(n: int) -> None:
            for _ in range(n):
                _ = server_state["one"]

        def reads_big(n: int) -> None:
            for _ in range(n):
                _ = server_state["big"]

    else:
        plain = {"hot": 0}

        def reads(n: int) -> None:
            for _ in range(n):
                _ = plain["hot"]

        def writes(n: int) -> None:
            for i in range(n):
                plain["hot"] = i

        lists = {"one": [0], "big": list(range(10_000))}

        def reads_one(n: int) -> None:
            for _ in range(n):
                _ = lists["one"]

        def reads_big(n: int) -> None:
            for _ in range(n):
                _ = lists["big"]

    # Writes last: streamlit-server-state's writes ask for a re-run of this very
    # session, which stops the run at its next Streamlit call.
    bench_results.results["reads"] = timed(reads, N)
    bench_results.results["reads_one"] = timed(reads_one, max(N // 10, 1000))
    bench_results.results["reads_big"] = timed(reads_big, max(N // 10, 1000))
    bench_results.results["writes"] = timed(writes, max(N // 20, 1000))

for name, per_second in bench_results.results.items():
    st.text(f"{name}/s={per_second:.0f}")
