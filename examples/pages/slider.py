import streamlit as st
from states import Dial

dial = Dial.get()

# The widget shows the shared value: when another session moved it, this
# session was re-run and takes the new value before the widget is drawn.
if st.session_state.get("dial") != dial.value:
    st.session_state["dial"] = dial.value


def moved() -> None:
    dial.value = st.session_state["dial"]


st.title("Shared slider")
st.slider("Everybody moves this one", 0, 100, key="dial", on_change=moved)
st.progress(dial.value / 100, text=f"{dial.value} %")
