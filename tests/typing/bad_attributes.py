"""Misuse mypy reports from the library's annotations alone (with or without the plugin)."""

from tests.typing.states import Chat
from typed_state import shared_state

chat = Chat.get()
print(chat.cout)  # E: "Chat" has no attribute "cout"; maybe "count"?  [attr-defined]
chat.cout = 1  # E: "Chat" has no attribute "cout"; maybe "count"?  [attr-defined]
chat.count = "x"  # E: Incompatible types in assignment (expression has type "str", variable has type "int")  [assignment]
text: str = Chat.get().count  # E: Incompatible types in assignment (expression has type "int", variable has type "str")  [assignment]
chat.messages.append("hi")  # E: Argument 1 to "append" of "list" has incompatible type "str"; expected "Message"  [arg-type]


@shared_state
def page(chat: Chat) -> None:
    print(chat.count)


page(chat)  # E: Too many arguments for "page"  [call-arg]
