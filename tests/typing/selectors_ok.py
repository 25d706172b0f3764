"""Correct code naming fields by selectors and by strings: clean in every checker."""

import streamlit as st

from tests.typing.states import Chat, Message, Room
from typed_state import Log

chat = Chat.get()
room = Room.get(key="r1")

with chat.lock(lambda c: c.count):
    chat.count += 1
with chat.lock(lambda c: (c.count, c.title), "scores"):
    pass
chat.append(lambda c: c.messages, Message(author="a", text="b"), keep_last=10)
room.append(lambda r: r.messages, Message(author="a", text="b"))
chat.set_item(lambda c: c.scores, "alice", 3)
chat.set_item(lambda c: c.messages, 0, Message(author="a", text="c"))
chat.del_item(lambda c: c.scores, "alice")
chat.del_item(lambda c: c.messages, 0)
with chat.mutate(lambda c: c.messages) as messages:
    messages.append(Message(author="a", text="d"))
with chat.mutate(lambda c: c.scores) as scores:
    scores["bob"] = 2
seen = chat.version(lambda c: c.count)
total: int = seen + 1
chat.update(count=2, if_versions=seen)
chat.update(count=3, if_versions=[seen, chat.version(lambda c: c.title)])
chat.update(count=4, if_versions={"count": seen})
with chat.batch(if_versions=seen) as new:
    new.count = 5
    new.title = new.title + "!"
chat.notify(lambda c: c.messages, "count")
st.slider("Count", 0, 10, **chat.widget(lambda c: c.count))
st.text_input("Topic", **room.widget(lambda r: r.title, key="t"))
with chat.lock("count"):
    chat.count -= 1
chat.append("messages", Message(author="a", text="e"))
chat.append(lambda c: c.history, Message(author="a", text="f"), keep_last=10)
chat.append("history", Message(author="a", text="g"))
chat.set_item(lambda c: c.history, 0, Message(author="a", text="h"))
chat.del_item(lambda c: c.history, 0)
with chat.mutate(lambda c: c.history) as history:  # a Log is edited as a list
    history.append(Message(author="a", text="i"))
newest: Message = chat.history[-1]
recent: list[Message] = chat.history[-50:]
texts = [m.text for m in chat.history]
chat.history = Log([*chat.history[-10:], Message(author="a", text="j")])
