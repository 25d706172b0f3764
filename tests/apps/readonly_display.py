"""A page for AppTest: read-only values drawn by Streamlit's elements."""

import pandas as pd
import streamlit as st

from tests.apps.chat_state import Message, Room

room = Room.get()
if not room.messages:
    room.messages = [Message(author="a", text="hi"), Message(author="b", text="yo")]
st.write(room.messages)
st.write(room.messages[0])
st.dataframe(room.messages)
st.dataframe(pd.DataFrame([m.model_dump() for m in room.messages]))
# The same values as plain models, to compare with: how Streamlit draws those changes
# between releases, and read-only values must be drawn the same.
plain = [Message(**m.model_dump()) for m in room.messages]
st.dataframe(plain)
st.text(f"{len(room.messages)} messages, first by {room.messages[0].author}")
try:
    room.messages.append(Message(author="c", text="sneaky"))
except TypeError as exc:
    st.error(str(exc))
st.write(plain)
