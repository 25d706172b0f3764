"""One page, many behaviours: the query string's `mode` picks what it reads."""

import socket
import threading
import time

import stats
import streamlit as st
from pydantic import ValidationError
from server_states import Counter, Room

from typed_state import no_rerun

mode = st.query_params.get("mode", "count")
if mode == "stats":  # before any state is used: a monitor is no tracked session
    stats.show()
    st.stop()
state = Counter.get()


@st.cache_resource
def trigger_port() -> int:
    """A loopback port whose every connection increments `count` at once.

    Lets a test make a write (and so a push) land a chosen number of
    milliseconds after its own widget change, with no script run in between.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1)
                shared = Counter.get()
                with shared.lock("count"):
                    shared.count += 1
                conn.sendall(b"k")

    threading.Thread(target=serve, daemon=True, name="trigger").start()
    return int(listener.getsockname()[1])


def inc() -> None:
    with state.lock("count"):
        state.count += 1


def storm() -> None:
    def run() -> None:
        for i in range(1, 151):
            state.storm = i
            time.sleep(0.01)

    threading.Thread(target=run, daemon=True).start()


st.button("inc", on_click=inc)
st.button("storm", on_click=storm)
if st.button("invalid"):
    try:
        state.count = -1
    except ValidationError as exc:
        st.error(f"rejected: {exc.errors()[0]['msg']}")
if st.button("quiet"):
    with no_rerun, state.lock("count"):
        state.count += 1
if st.button("notify"):
    state.notify("count")
if st.button("other"):
    state.other += 1

if mode == "count":
    st.markdown(f"count={state.count}")
elif mode == "none":
    st.markdown("reads nothing")
elif mode == "toggle":
    if st.checkbox("show"):
        st.markdown(f"count={state.count}")
    else:
        st.markdown("hidden")
elif mode == "fragment":
    st.markdown("page body")

    @st.fragment
    def shown() -> None:
        st.markdown(f"count={state.count}")

    shown()
elif mode == "room":
    room = Room.get(key=st.query_params["room"])
    if st.button("say"):
        with room.lock("count"):
            room.count += 1
    st.markdown(f"room={room.count}")
elif mode == "widget":
    st.markdown(f"trigger={trigger_port()}")
    name = st.text_input("name")
    st.markdown(f"name={name}")
    st.markdown(f"count={state.count}")
elif mode == "idiom":  # the README's first example: the button below the display
    st.markdown(f"count={state.count}")
    if st.button("plus"):
        with state.lock("count"):
            state.count += 1
elif mode == "fragcb":  # a fragment's callback writes what the page body shows
    room = Room.get(key=st.query_params["room"])
    st.markdown(f"room={room.count}")

    def bump() -> None:
        with room.lock("count"):
            room.count += 1

    @st.fragment
    def panel() -> None:
        st.button("bump", on_click=bump)
        st.markdown(f"panel={room.count}")

    panel()
elif mode == "everyrun":  # reads a field and writes a new value on every run
    room = Room.get(key=st.query_params["room"])
    st.markdown(f"seen={room.count}")
    room.count = room.count + 1
    st.button("poke")
elif mode == "pingpong":  # each session writes back its own value (a widget's, say)
    room = Room.get(key=st.query_params["room"])
    mine = int(st.query_params["mine"])
    st.markdown(f"room={room.count}")
    if room.count != mine:
        room.count = mine
elif mode == "job":  # a thread the app starts with the session's context on it
    room = Room.get(key=st.query_params["room"])

    def work(target: Room) -> None:
        for step in range(1, 31):
            time.sleep(0.03)
            target.count = step

    if st.button("start"):
        from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

        job = threading.Thread(target=work, args=(room,), daemon=True)
        add_script_run_ctx(job, get_script_run_ctx())
        job.start()
    st.markdown(f"progress={room.count}")
elif mode == "log":
    if st.button("sneak"):
        try:
            state.log.append("sneaked")
        except TypeError as exc:
            st.error(str(exc))
    if st.button("append"):
        with state.mutate("log") as log:
            log.append("added")
    st.markdown(f"log={len(state.log)}")
elif mode == "members":  # a member that is created by a write and dropped from a page
    key = st.query_params["room"]
    room = Room.get(key=key)

    def say(target: Room) -> None:
        with target.lock("count"):
            target.count += 1

    st.button("say", on_click=say, args=(room,))  # a callback holding this run's instance
    st.markdown(f"room={room.count}")
    if st.button("drop"):
        Room.drop(key)
elif mode == "lobby":
    st.markdown("rooms=[" + "|".join(Room.keys()) + "]")
elif mode == "storm":
    st.markdown(f"storm={state.storm}")
