"""A chat with rooms: `streamlit run examples/recipes/chat_rooms.py`, then `?room=support`."""

from datetime import datetime

import streamlit as st
from pydantic import BaseModel, Field, ValidationError

from typed_state import InvalidKeyError, SharedState, StateConfig


class Message(BaseModel):
    author: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)
    sent: datetime = Field(default_factory=datetime.now)


class ChatRoom(SharedState):
    """One room per key; rooms nobody used for a week go."""

    model_config = StateConfig(typed_state_ttl=7 * 24 * 3600, typed_state_max_keys=100)
    messages: list[Message] = Field(default_factory=list)


try:
    room = ChatRoom.get(key=st.query_params.get("room", "lobby"))
except InvalidKeyError as exc:  # the key comes from the URL: anyone can type anything
    st.error(str(exc))
    st.stop()

name = st.sidebar.text_input("Your name", "guest").strip()[:40] or "guest"
room.present_as(name)
st.sidebar.caption(f"{room.presence()} here: {', '.join(room.present())}")


@st.fragment
def messages() -> None:
    # Only this fragment reads the messages: a new message re-runs just this part.
    for message in room.messages[-100:]:
        with st.chat_message(message.author):
            st.caption(f"{message.author} · {message.sent:%H:%M}")
            st.write(message.text)


messages()
if text := st.chat_input("Say something"):
    try:
        # Validates and stores just this message, however long the chat is.
        room.append(lambda r: r.messages, Message(author=name, text=text), keep_last=500)
    except ValidationError as exc:
        st.error(f"Not sent: {exc.errors()[0]['msg']}")
