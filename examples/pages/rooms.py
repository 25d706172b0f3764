import streamlit as st
from chat_ui import show_chat
from states import Chat

st.title("Chat rooms")
rooms = Chat.keys() or ["general"]
with st.sidebar:
    new_room = st.text_input("Open a room", placeholder="room name")
choices = sorted({*rooms, *([new_room.strip()] if new_room.strip() else [])})
room = st.radio("Room", choices, horizontal=True, key="room")
st.caption(f"Each room is `Chat.get(key={room!r})`: writes here re-run only this room's readers.")
show_chat(Chat.get(key=room), where=f"room-{room}")
