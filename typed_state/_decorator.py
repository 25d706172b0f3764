"""``@shared_state``: page functions that receive their states as arguments."""

from __future__ import annotations

import functools
import inspect
import typing

# At run time: typing.get_type_hints(shared_state) resolves it.
from collections.abc import Callable  # noqa: TC003
from typing import Any

from typed_state._errors import DefinitionError
from typed_state._model import SharedState


def shared_state(page: Callable[..., None]) -> Callable[[], None]:
    """Inject the shared states a page function declares, by annotation.

    Each parameter annotated with a ``SharedState`` subclass receives that
    class's shared instance; the page is bound to exactly the fields it reads
    in each run.  The result takes no arguments, so it can be given to
    ``st.Page`` or simply called:

    ```python
    @shared_state
    def page(chat: Chat) -> None:
        st.write(chat.messages)

    page()
    ```
    """
    signature = inspect.signature(page)
    resolved: dict[str, type[SharedState]] | None = None

    def states() -> dict[str, type[SharedState]]:
        # Resolved on first call: with `from __future__ import annotations`
        # the classes may be defined after the function.
        nonlocal resolved
        if resolved is None:
            hints = typing.get_type_hints(page)
            found: dict[str, type[SharedState]] = {}
            for name, param in signature.parameters.items():
                hint = hints.get(name)
                if isinstance(hint, type) and issubclass(hint, SharedState):
                    found[name] = hint
                elif param.default is inspect.Parameter.empty:
                    raise DefinitionError(
                        f"@shared_state page {page.__qualname__}: parameter "
                        f"{name!r} must be annotated with a SharedState subclass "
                        f"(it is {hint!r})"
                    )
            resolved = found
        return resolved

    @functools.wraps(page)
    def run() -> None:
        arguments: dict[str, Any] = {name: cls.get() for name, cls in states().items()}
        page(**arguments)

    return run
