import streamlit as st
from states import Dial

dial = Dial.get()

st.title("Shared slider")
# One line binds the widget to the field: a push moves it, a user's move writes it.
st.slider("Everybody moves this one", 0, 100, **dial.widget("value"))
st.progress(dial.value / 100, text=f"{dial.value} %")
