"""Appends: one message added to a chat of 1,000, 100,000 and 1,000,000.

In a fresh process per case, with no session reading (the write alone: validation,
freezing, the lock and the change detection; no push): typed_state's ``append()`` to
a ``list[Message]`` field (a new read-only list, its pointers copied) and to a
``Log[Message]`` field (the new item alone), against streamlit-server-state's way to
add an item, setting a new list (``server_state[k] = server_state[k] + [m]``: its
item's ``set_value``, which also hashes the new value by its ``repr``).  Reports the
median of each case's appends.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

from benchmarks._common import Report, median, table

SIZES = (1_000, 100_000, 1_000_000)

_SETUP = """
import json, sys, time
from pydantic import BaseModel

class Message(BaseModel):
    author: str
    text: str

size, appends = int(sys.argv[1]), int(sys.argv[2])
items = [Message(author="a", text=f"message {i}") for i in range(size)]
times = []
"""

_TYPED_STATE = """
from typed_state import Log, SharedState

class Chat(SharedState):
    messages: {declared}

chat = Chat.get()
chat.messages = {initial}
for i in range(appends):
    message = Message(author="b", text=f"new {{i}}")
    began = time.perf_counter()
    chat.append(lambda c: c.messages, message)
    times.append(time.perf_counter() - began)
"""

_CASES = {
    "list": _TYPED_STATE.format(declared="list[Message] = []", initial="items"),
    "log": _TYPED_STATE.format(declared="Log[Message] = Log()", initial="Log(items)"),
    "server_state": """
from streamlit_server_state.server_state_item import ServerStateItem

item = ServerStateItem()
item.set_value(items)
for i in range(appends):
    message = Message(author="b", text=f"new {i}")
    began = time.perf_counter()
    item.set_value(item.get_value() + [message])
    times.append(time.perf_counter() - began)
""",
}

LABELS = {
    "list": "typed_state, list field",
    "log": "typed_state, Log field",
    "server_state": "streamlit-server-state 0.20.2",
}


def _two_digits(ratio: float) -> str:
    """``0.024x``, ``0.00021x``, ``0.000025x``: two significant digits, never "0.00x"."""
    decimals = max(2, 1 - math.floor(math.log10(ratio)))
    return f"{ratio:.{decimals}f}x"


def measure(case: str, size: int, appends: int) -> float:
    """The median time of one append (s), in a fresh process."""
    code = textwrap.dedent(_SETUP) + textwrap.dedent(_CASES[case]) + "print(json.dumps(times))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(size), str(appends)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return median(json.loads(done.stdout.strip().splitlines()[-1]))


async def run(quick: bool) -> Report:
    sizes = SIZES[:2] if quick else SIZES
    rows = []
    found: dict[tuple[str, int], float] = {}
    for size in sizes:
        for case in _CASES:
            # streamlit-server-state's set hashes the whole list's repr: seconds at 1M.
            appends = 5 if case == "server_state" and size >= 1_000_000 else 30
            found[case, size] = measure(case, size, appends)
        rows.append(
            [
                f"{size:,}",
                *(f"{found[case, size] * 1000:.3f} ms" for case in _CASES),
                _two_digits(found["log", size] / found["server_state", size]),
            ]
        )
    report = Report(
        "Appends: one message added to a chat of N (median, no readers)",
        table(["N", *LABELS.values(), "Log / streamlit-server-state"], rows),
    )
    hundred_k = found["log", 100_000]
    report.goals.append(
        (f"a Log append at 100,000 at most 1 ms ({hundred_k * 1000:.3f} ms)", hundred_k <= 0.001)
    )
    million = found.get(("log", 1_000_000))
    if million is not None:
        report.goals.append(
            (
                f"at 1,000,000 within 2x of that ({million * 1000:.3f} ms, "
                f"{million / hundred_k:.2f}x)",
                million <= 2 * hundred_k,
            )
        )
    return report
