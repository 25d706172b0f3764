"""A settings form of five bound widgets inside st.form, for AppTest and real servers."""

import stats
import streamlit as st
from widgets_state import Settings

if st.query_params.get("mode") == "stats":
    stats.show()
    st.stop()
cfg = Settings.get()
with st.form("settings"):
    st.text_input("title", **cfg.widget("title"))
    st.number_input("max", min_value=0, max_value=100, **cfg.widget("max_users"))
    st.selectbox("size", ["S", "M", "L"], **cfg.widget("size"))
    st.checkbox("public", **cfg.widget("public"))
    st.slider("level", 0, 10, **cfg.widget("level"))
    if st.form_submit_button("Save"):
        st.markdown("submitted")
st.markdown(
    f"saved: title={cfg.title} max={cfg.max_users} size={cfg.size} "
    f"public={cfg.public} level={cfg.level}"
)
