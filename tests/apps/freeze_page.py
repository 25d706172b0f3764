"""A small page for the gc_freeze test: a shared counter and how many objects are frozen."""

import gc

import streamlit as st
from server_states import Counter


@st.cache_resource
def frozen_by_the_interpreter() -> int:
    """What was frozen before typed_state could freeze anything (its first run ends
    after this): 0 on most Pythons, 375 on a fresh 3.12.1."""
    return gc.get_freeze_count()


st.markdown(f"count={Counter.get().count}")
st.markdown(f"frozen={gc.get_freeze_count() - frozen_by_the_interpreter()}")
st.markdown(f"active={st.runtime.get_instance()._session_mgr.num_active_sessions()}")  # type: ignore[attr-defined]
