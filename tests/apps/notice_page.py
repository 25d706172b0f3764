"""The natural feedback code, with typed_state.notice: a value drawn, then written on a click."""

import streamlit as st

from typed_state import SharedState, StaleWriteError, notice


class Clicks(SharedState):
    count: int = 0


clicks = Clicks.get()
st.markdown(f"count={clicks.count}")
if st.button("+1"):
    clicks.count += 1
    notice.success("Saved!")
    notice.toast("Saved")
if st.button("plain"):
    st.success("plain feedback")
if "seen" not in st.session_state:  # the version this session started editing from
    st.session_state["seen"] = clicks.version("count")
if st.button("save from the start"):
    try:
        clicks.update(count=100, if_versions={"count": st.session_state["seen"]})
    except StaleWriteError:
        notice.error("Somebody saved first: nothing was saved.")
