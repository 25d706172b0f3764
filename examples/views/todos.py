import uuid

import streamlit as st
from states import Todo, TodoList

todos = TodoList.get()

st.title("Shared todo list")
with st.form("add", clear_on_submit=True, border=False):
    text = st.text_input("New item", placeholder="Buy milk")
    if st.form_submit_button("Add") and text.strip():
        item = uuid.uuid4().hex[:8]
        Todo.get(key=item).text = text.strip()
        with todos.lock("items"):
            todos.items = [*todos.items, item]

for item in todos.items:
    todo = Todo.get(key=item)
    # Each checkbox is bound to its item's `done`: a tick shows in every session.
    st.checkbox(todo.text, **todo.widget("done"))

done = [item for item in todos.items if Todo.get(key=item).done]
if done and st.button(f"Remove {len(done)} done"):
    with todos.lock("items"):
        todos.items = [item for item in todos.items if item not in done]
    for item in done:
        Todo.drop(item)
    st.rerun()
