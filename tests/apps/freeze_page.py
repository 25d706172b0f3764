"""A small page for the gc_freeze test: a shared counter and how many objects are frozen."""

import gc

import streamlit as st
from server_states import Counter

st.markdown(f"count={Counter.get().count}")
st.markdown(f"frozen={gc.get_freeze_count()}")
st.markdown(f"active={st.runtime.get_instance()._session_mgr.num_active_sessions()}")  # type: ignore[attr-defined]
