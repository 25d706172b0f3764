"""A page for AppTest: a counter, a chat, a validated write and a worker thread."""

import threading

import streamlit as st
from pydantic import ValidationError

from tests.apps.chat_state import Message, Room
from typed_state import shared_state


@shared_state
def page(room: Room) -> None:
    def inc() -> None:
        with room.lock("count"):
            room.count += 1

    st.button("inc", on_click=inc)
    if st.button("invalid"):
        try:
            room.count = -5
        except ValidationError as exc:
            st.error(f"rejected: {exc.errors()[0]['msg']}")
    text = st.text_input("say")
    if text:
        with room.mutate("messages") as messages:
            messages.append(Message(author="me", text=text))
    if st.button("worker"):
        thread = threading.Thread(target=lambda: setattr(Room.get(), "count", 100))
        thread.start()
        thread.join()
    st.markdown(f"count={room.count}")
    if st.button("job"):  # started the usual way for threads that call st.*, after the read
        from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

        job = threading.Thread(target=lambda: setattr(Room.get(), "count", 55))
        add_script_run_ctx(job, get_script_run_ctx())
        job.start()
        job.join()
    for message in room.messages:
        st.markdown(f"{message.author}: {message.text}")


page()
