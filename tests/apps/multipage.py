"""st.navigation app: page `reader` reads the count and has a slider."""

import streamlit as st
from server_states import Counter


def reader() -> None:
    value = st.slider("level", 0, 100, 10)
    st.markdown(f"level={value}")
    st.markdown(f"count={Counter.get().count}")


def writer() -> None:
    state = Counter.get()

    def inc() -> None:
        with state.lock("count"):
            state.count += 1

    st.button("inc", on_click=inc)
    st.markdown("writer page")


st.navigation(
    [st.Page(writer, title="writer", default=True), st.Page(reader, title="reader")]
).run()
