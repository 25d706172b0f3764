"""Chat rooms: each session shows the room named in its "room" box; "send" posts there."""

import os

import streamlit as st

LIB = os.environ.get("BENCH_LIB", "typed_state")

room = st.text_input("room", value="r0")

if LIB == "typed_state":
    from benchmarks.apps.bench_states import Room

    state = Room.get(key=room)

    def send() -> None:
        with state.mutate("messages") as messages:
            messages.append("hello")

    count = len(state.messages)

else:
    from streamlit_server_state import server_state, server_state_lock

    key = f"room_{room}"
    with server_state_lock[key]:
        if key not in server_state:
            server_state[key] = []

    def send() -> None:
        with server_state_lock[key]:
            server_state[key] = [*server_state[key], "hello"]

    count = len(server_state[key])

st.button("send", on_click=send)
st.text(f"room={room} messages={count}")
