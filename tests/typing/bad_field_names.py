"""Field names given as strings: reported by the typed_state.mypy plugin."""

from typing import Final

from tests.typing.states import Chat, Room

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
