"""Every widget that holds a value, each bound to a field with widget()."""

import streamlit as st
from widgets_state import Form

form = Form.get()
st.select_slider("size", ["S", "M", "L"], **form.widget("size"))
st.radio("color", ["red", "blue"], **form.widget("color"))
st.selectbox("shape", ["circle", "square"], **form.widget("shape"))
st.number_input("qty", **form.widget("qty"))
st.text_area("notes", **form.widget("notes"))
st.date_input("day", **form.widget("day"))
st.time_input("at", **form.widget("at"))
st.color_picker("paint", **form.widget("paint"))
st.toggle("on", **form.widget("on"))
st.pills("fruit", ["apple", "pear"], **form.widget("fruit"))
st.segmented_control("mode", ["a", "b"], **form.widget("mode"))
st.markdown(repr(form.model_dump()))
