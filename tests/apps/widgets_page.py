"""Widgets bound to shared fields with Knob.widget(), for AppTest and real servers."""

import stats
import streamlit as st
from widgets_state import Knob

if st.query_params.get("mode") == "stats":
    stats.show()
    st.stop()
knob = Knob.get()
if "naive" in st.query_params:  # the pattern that loops: each session writes its widget back
    v = st.slider("naive", 0, 10, value=knob.level, key="naive")
    if v != knob.level:
        knob.level = v
    st.markdown(f"naive={knob.level}")
    st.stop()
st.slider("level", 0, 10, **knob.widget("level"))
st.checkbox("done", **knob.widget("done"))
st.text_input("name", **knob.widget("name"))
st.multiselect("tags", ["a", "b", "c"], **knob.widget("tags"))


@st.fragment
def panel() -> None:
    st.toggle("done too", **knob.widget("done", key="done-in-fragment"))
    st.markdown(f"panel done={knob.done}")


panel()
st.markdown(f"level={knob.level} done={knob.done} name={knob.name} tags={','.join(knob.tags)}")
