"""A widget bound to a field of a family member (for the dropped-member test)."""

import streamlit as st

from typed_state import SharedState


class Dial(SharedState):
    level: int = 0


dial = Dial.get(key="d1")
st.slider("level", 0, 10, **dial.widget("level"))
st.markdown(f"level={dial.level}")
