import streamlit as st
from chat_ui import show_chat
from states import Chat

st.title("Chat rooms")
# keys() lists the rooms somebody wrote in; this page re-runs when one opens or goes.
rooms = Chat.keys() or ["general"]
with st.sidebar:
    new_room = st.text_input("Open a room", placeholder="room name")
choices = sorted({*rooms, *([new_room.strip()] if new_room.strip() else [])})
room = st.radio("Room", choices, horizontal=True, key="room")
here = Chat.presence_by_key()  # who is in which room, live
st.caption(" · ".join(f"{name}: {here.get(name, 0)} here" for name in choices))
st.caption(
    f"Each room is `Chat.get(key={room!r})`: it exists from its first message, and writes "
    "here re-run only this room's readers. Rooms idle for a week are deleted."
)
show_chat(Chat.get(key=room), where=f"room-{room}")
if room in rooms and st.button(f"Delete room {room!r}", type="tertiary"):
    Chat.drop(room)  # everybody in it re-runs and finds it empty
