"""Presence across pages: "room" shows who is in a room; "elsewhere" uses no state."""

import stats
import streamlit as st
from server_states import Room

if st.query_params.get("mode") == "stats":
    stats.show()
    st.stop()


def room() -> None:
    here = Room.get(key="lobby")
    name = st.query_params.get("name")
    if name:
        here.present_as(name)
    st.markdown(f"here={here.presence()}")
    st.markdown("who=" + ",".join(here.present()))


def elsewhere() -> None:
    st.markdown("nothing shared here")


st.navigation(
    [st.Page(room, title="room", default=True), st.Page(elsewhere, title="elsewhere")]
).run()
