import streamlit as st

from typed_state import SharedState


class Counter(SharedState):
    count: int = 0


state = Counter.get()


def inc() -> None:
    with state.lock("count"):
        state.count += 1


st.button("inc", on_click=inc)
if st.checkbox("show", value=True):
    st.markdown(f"count={state.count}")
