"""Test-only peeks at a server, shown by a page asked with ``?mode=stats``: the
subscription table, Streamlit's sessions, pushes not requested yet, and what this
process has heard of every state it holds (read without binding the session)."""

import streamlit as st

from typed_state import _members, _presence
from typed_state._engine import engine


def show() -> None:
    sessions = st.runtime.get_instance()._session_mgr  # type: ignore[attr-defined]
    st.markdown(f"tracked={engine().tracked_sessions()}")
    st.markdown(f"pushes={engine().reruns_requested}")
    st.markdown(f"active={sessions.num_active_sessions()}")
    st.markdown(f"pending={engine().pending()}")
    st.markdown(f"ticks={_presence.ticks()}")
    heard = [
        f"{ns}.{name}:{slot.backend.version(ns, name)}"
        for ns, slot in _members.slots()
        for name in slot.values
    ]
    st.markdown("heard=" + " ".join(sorted(heard)))
