"""Field names given as strings: reported by the typed_state.mypy plugin."""

from typing import Final

import streamlit as st

from tests.typing.states import Chat, Message, Room

chat = Chat.get()
TITLE: Final = "titel"

with chat.lock("cout"):  # E: "Chat" has no field "cout"; maybe "count"?  [typed-state-field]
    pass
with chat.lock("count", "nope"):  # E: "Chat" has no field "nope"  [typed-state-field]
    pass
with chat.lock(TITLE):  # E: "Chat" has no field "titel"; maybe "title"?  [typed-state-field]
    pass
with chat.mutate("message") as draft:  # E: "Chat" has no field "message"; maybe "messages"?  [typed-state-field]
    pass
chat.notify("messages", "topic")  # E: "Chat" has no field "topic"  [typed-state-field]
Room.get().notify("topic")
chat.version("titel")  # E: "Chat" has no field "titel"; maybe "title"?  [typed-state-field]
chat.update(count=1, if_versions={"cont": 3})  # E: "Chat" has no field "cont"; maybe "count"?  [typed-state-field]
chat.widget("cont")  # E: "Chat" has no field "cont"; maybe "count"?  [typed-state-field]
chat.update(cout=1)  # E: Unexpected keyword argument "cout" for "update" of "Chat"; did you mean "count"?  [call-arg]  # N: "update" defined in "typed_state._model"
chat.update(count="1")  # E: Argument "count" to "update" of "Chat" has incompatible type "str"; expected "int"  [arg-type]
with chat.mutate("count") as value:
    value.append(1)  # E: "int" has no attribute "append"  [attr-defined]
chat.append("messages", "hi")  # E: No overload variant of "append" of "SharedState" matches argument types "str", "str"  [call-overload]
chat.append("mesages", Message(author="a", text="b"))  # E: "Chat" has no field "mesages"; maybe "messages"?  [typed-state-field]
chat.append("count", 1)  # E: append() needs a list field; "count" is "int"  [typed-state-field]
chat.append("history", "hi")  # E: No overload variant of "append" of "SharedState" matches argument types "str", "str"  [call-overload]
chat.append("scores", 1)  # E: append() needs a list field; "scores" is "dict"  [typed-state-field]
chat.set_item("scores", "alice", "3")  # E: No overload variant of "set_item" of "SharedState" matches argument types "str", "str", "str"  [call-overload]
chat.set_item("scores", 1, 3)  # E: No overload variant of "set_item" of "SharedState" matches argument types "str", "int", "int"  [call-overload]
chat.set_item("messages", "0", Message(author="a", text="b"))  # E: No overload variant of "set_item" of "SharedState" matches argument types "str", "str", "Message"  [call-overload]
chat.del_item("scores", 2)  # E: No overload variant of "del_item" of "SharedState" matches argument types "str", "int"  [call-overload]
chat.del_item("title", 0)  # E: del_item() needs a list or a dict field; "title" is "str"  [typed-state-field]
st.slider("Count", 0, 10, value=3, **chat.widget("count"))  # E: value= next to **state.widget(...): the field is the widget's value (leave value= out)  [typed-state-widget]
st.sidebar.number_input("Count", value=3, **chat.widget("count"))  # E: value= next to **state.widget(...): the field is the widget's value (leave value= out)  [typed-state-widget]
