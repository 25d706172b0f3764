import streamlit as st
from states import Counter

from typed_state import shared_state


@shared_state
def page(counter: Counter) -> None:
    st.title("Global counter")

    def increment() -> None:
        # Read-modify-write under the field's lock: no lost increments.
        with counter.lock("count"):
            counter.count += 1

    left, right = st.columns(2)
    left.button("+1", on_click=increment, width="stretch")
    right.button("Reset", on_click=lambda: setattr(counter, "count", 0), width="stretch")
    st.metric("Clicks, all sessions together", counter.count)


page()
