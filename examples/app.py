"""typed_state demo: `streamlit run examples/app.py`, then open it in two tabs."""

import streamlit as st

st.set_page_config(page_title="typed_state demo", page_icon="🔗")

pages = [
    st.Page("pages/counter.py", title="Counter", icon="🔢", default=True),
    st.Page("pages/slider.py", title="Shared slider", icon="🎚️"),
    st.Page("pages/todos.py", title="Todo list", icon="✅"),
    st.Page("pages/table.py", title="Shared table", icon="📋"),
    st.Page("pages/editor.py", title="Shared document", icon="📝"),
    st.Page("pages/chat.py", title="Chat", icon="💬"),
    st.Page("pages/rooms.py", title="Chat rooms", icon="🚪"),
    st.Page("pages/worker.py", title="Worker progress", icon="⚙️"),
]
st.navigation(pages).run()
st.sidebar.caption("Open this app in a second tab: every change shows in both.")
