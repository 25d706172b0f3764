"""The chat view shared by the Chat and Chat rooms pages."""

import streamlit as st
from pydantic import ValidationError
from states import Chat, Message


def show_chat(chat: Chat, *, where: str) -> None:
    """Messages in a fragment: a new message re-runs only this part of the page."""
    author = st.text_input("Your name", key=f"author-{where}", value="guest")
    if author.strip():
        chat.present_as(author.strip()[:100])
    # Presence binds like a field: this line updates as people come and go.
    st.caption(f"{chat.presence()} here: {', '.join(chat.present())}")

    @st.fragment
    def messages() -> None:
        for message in chat.messages[-50:]:
            with st.chat_message(message.author):
                st.write(f"**{message.author}** · {message.sent:%H:%M:%S}")
                st.write(message.text)

    messages()
    if text := st.chat_input("Say something", key=f"input-{where}"):
        try:
            # Validates and sends just this message, however long the chat; the
            # chat keeps its last 500.
            chat.append("messages", Message(author=author, text=text), keep_last=500)
        except ValidationError as exc:
            st.error(f"Not sent: {exc.errors()[0]['msg']}")
        else:
            st.rerun()
