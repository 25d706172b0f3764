"""typed_state demo: `streamlit run examples/app.py`, then open it in two tabs."""

import streamlit as st

import typed_state

st.set_page_config(page_title="typed_state demo", page_icon="🔗")

# The page files live in views/, not pages/: Streamlit would run a file of pages/
# by itself (without this navigation) when someone opens its URL directly.

pages = [
    st.Page("views/counter.py", title="Counter", icon="🔢", default=True),
    st.Page("views/slider.py", title="Shared slider", icon="🎚️"),
    st.Page("views/todos.py", title="Todo list", icon="✅"),
    st.Page("views/table.py", title="Shared table", icon="📋"),
    st.Page("views/editor.py", title="Shared document", icon="📝"),
    st.Page("views/chat.py", title="Chat", icon="💬"),
    st.Page("views/rooms.py", title="Chat rooms", icon="🚪"),
    st.Page("views/worker.py", title="Worker progress", icon="⚙️"),
]
# The inspector shows and edits every shared value: keep it for administrators
# in a real app (docs/guide/inspector.md).
admin = [st.Page(typed_state.inspector, title="State inspector", icon="🔍", url_path="state")]
st.navigation({"Demo": pages, "Admin": admin}).run()
st.sidebar.caption("Open this app in a second tab: every change shows in both.")
