"""A big chat: "start" launches a thread appending one message every 100 ms.

The chat holds BENCH_CHAT_SIZE messages first.  Each append's start (monotonic,
comparable across processes on Linux), wall time and CPU time are logged to BENCH_OUT.
BENCH_MODE picks how typed_state appends: "append" (the item operation), "log" (the
same to a ``Log`` field) or "mutate" (a copy of the whole list, edited and stored).
"""

import os
import threading
import time

import streamlit as st

LIB = os.environ.get("BENCH_LIB", "typed_state")
SIZE = int(os.environ.get("BENCH_CHAT_SIZE", "10000"))
APPENDS = int(os.environ.get("BENCH_CHAT_APPENDS", "100"))
MODE = os.environ.get("BENCH_MODE", "append")
INTERVAL = 0.1

if LIB == "typed_state":
    from benchmarks.apps.bench_states import BigChat, BigLog, Msg

    chat = BigLog.get() if MODE == "log" else BigChat.get()
    if not chat.messages:
        with chat.lock("messages"):
            if not chat.messages:
                seed = [Msg(author="seed", text=f"message {i}") for i in range(SIZE)]
                if MODE in ("append", "log"):  # as a chat grows (under Redis: a list)
                    chat.append("messages", *seed)
                else:
                    chat.messages = seed

    def read() -> tuple[int, str]:
        messages = chat.messages
        return len(messages), messages[-1].text

    def add(i: int) -> None:
        message = Msg(author="bot", text=f"new {i}")
        if MODE in ("append", "log"):
            chat.append("messages", message)
        else:  # a list field (BigChat): mutate() hands out the list itself
            assert isinstance(chat, BigChat)
            with chat.mutate("messages") as messages:
                messages.append(message)

else:
    from streamlit_server_state import server_state, server_state_lock

    with server_state_lock["chat"]:
        if "chat" not in server_state:
            server_state["chat"] = [{"author": "seed", "text": f"message {i}"} for i in range(SIZE)]

    def read() -> tuple[int, str]:
        messages = server_state["chat"]
        return len(messages), messages[-1]["text"]

    def add(i: int) -> None:
        with server_state_lock["chat"]:
            server_state["chat"] = [*server_state["chat"], {"author": "bot", "text": f"new {i}"}]


def appender() -> None:
    start = time.monotonic()
    with open(os.environ["BENCH_OUT"], "w") as log:
        for i in range(1, APPENDS + 1):
            delay = start + i * INTERVAL - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began, cpu = time.monotonic(), time.thread_time()
            add(i)
            # Wall time includes waiting for the GIL while the readers re-run; the
            # thread's CPU time is what the append itself costs.
            log.write(f"{began} {time.monotonic() - began} {time.thread_time() - cpu}\n")
            log.flush()


def start() -> None:
    thread = threading.Thread(target=appender, daemon=True)
    if LIB != "typed_state":
        # streamlit-server-state reads only inside a session: give the thread the clicker's.
        from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

        add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()


st.button("start", on_click=start)
count, last = read()
st.text(f"count={count}")
st.text(f"last={last}")
