"""typed_state demo: `streamlit run examples/app.py`, then open it in two tabs."""

import streamlit as st

import typed_state

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
# The inspector shows and edits every shared value: keep it for administrators
# in a real app (README: "The inspector").
admin = [st.Page(typed_state.inspector, title="State inspector", icon="🔍", url_path="state")]
st.navigation({"Demo": pages, "Admin": admin}).run()
st.sidebar.caption("Open this app in a second tab: every change shows in both.")
