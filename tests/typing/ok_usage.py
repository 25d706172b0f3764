"""Correct use: no errors, and the types mypy infers."""

from typing import reveal_type

import streamlit as st

from tests.typing.states import Chat, Message, Room
from typed_state import SharedState, StateConfig, shared_state


class Elsewhere(SharedState):
    model_config = StateConfig(typed_state_url="memory://")
    n: int = 0


chat = Chat.get()
reveal_type(chat)  # N: Revealed type is "tests.typing.states.Chat"
reveal_type(Room.get(key="r1"))  # N: Revealed type is "tests.typing.states.Room"
count: int = chat.count
chat.count = count + 1
chat.title = "news"

with chat.lock("count", "title", timeout=1.0):
    chat.count += 1

with chat.mutate("messages") as messages:
    reveal_type(messages)  # N: Revealed type is "list[tests.typing.states.Message]"
    messages.append(Message(author="ann", text="hi"))

with chat.mutate("history") as history:  # a Log's draft is a list
    reveal_type(history)  # N: Revealed type is "list[tests.typing.states.Message]"
    history.append(Message(author="ann", text="hi"))

with Room.get(key="r1").mutate("topic") as topic:
    reveal_type(topic)  # N: Revealed type is "str | None"

chat.append("messages", Message(author="ann", text="hi"), keep_last=500)
chat.append("messages", *[Message(author="bo", text="yo")], timeout=1.0)
chat.set_item("scores", "alice", 3)
chat.set_item("messages", -1, Message(author="ann", text="edited"))
chat.del_item("scores", "alice")
chat.del_item("messages", 0)
chat.append("history", Message(author="ann", text="hi"), keep_last=100_000)
chat.set_item("history", 0, Message(author="ann", text="edited"))
chat.update(count=0, title="reset", messages=[])
chat.update(timeout=2.0)
chat.notify("messages", "count")
Room.get(key="r2").notify("topic", "count")

level = st.slider("Count", 0, 10, **chat.widget("count"))
reveal_type(level)  # N: Revealed type is "int"
st.text_input("Title", **Room.get(key="r2").widget("topic", key="topic-2"))

seen = chat.version("count")
reveal_type(seen)  # N: Revealed type is "typed_state._version.Version"
chat.update(count=2, if_versions={"count": seen, "title": 0})

name = "count" if count else "title"
with chat.lock(name):  # a name mypy cannot know is not checked
    pass


@shared_state
def page(chat: Chat, room: Room) -> None:
    chat.count += room.count


page()
reveal_type(page)  # N: Revealed type is "def ()"
