"""Misuse that every checker reports (basedpyright standard; mypy --strict with and
without typed_state's plugin): each line marked `# error` holds one, no other line does."""

import streamlit as st

from tests.typing.states import Chat, Message, Room

chat = Chat.get()
room = Room.get(key="r1")
seen = chat.version(lambda c: c.count)

with chat.lock(lambda c: c.cont):  # error
    pass
chat.append(lambda c: c.mesages, Message(author="a", text="b"))  # error
chat.set_item(lambda c: c.scors, "alice", 3)  # error
chat.del_item(lambda c: c.scors, "alice")  # error
with chat.mutate(lambda c: c.mesages) as messages:  # error
    pass
chat.version(lambda c: c.titel)  # error
chat.notify(lambda c: c.cont)  # error
st.slider("Count", 0, 10, **chat.widget(lambda c: c.cont))  # error
with chat.batch() as new:
    new.cont = 1  # error
chat.update(count=1, if_versions=chat.version(lambda c: c.cout))  # error
chat.append(lambda c: c.messages, "hi")  # error
chat.set_item(lambda c: c.scores, "alice", "three")  # error
chat.append(lambda c: c.title, "x")  # error
chat.append(lambda c: c.history, "hi")  # error
chat.history.append(Message(author="a", text="b"))  # error
with chat.mutate(lambda c: c.messages) as messages:
    messages.append(1)  # error
with chat.batch() as new:
    new.count = "many"  # error
with chat.lock(chat.count):  # error
    pass
chat.notify(lambda c: c.topic)  # error
Chat.get(key=123)  # error
