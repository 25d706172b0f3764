"""Typed, validated, server-wide shared state for Streamlit, on Pydantic v2.

```python
from typed_state import SharedState, notice

class Counter(SharedState):
    count: int = 0

state = Counter.get()      # the instance every session of the server shares
st.write(state.count)      # this session now re-runs when `count` changes
if st.button("+1"):
    state.count += 1
    notice.success("Saved")  # stays through the catch-up run that shows 1
```
"""

from __future__ import annotations

import importlib as _importlib
import inspect as _inspect
import sys as _sys
import threading as _threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typed_state._change import no_rerun
    from typed_state._config import StateConfig
    from typed_state._decorator import shared_state
    from typed_state._errors import (
        BackendError,
        ConfigurationError,
        DefinitionError,
        FieldNameError,
        InvalidKeyError,
        KeyNotAllowedError,
        LockLostError,
        LockTimeoutError,
        ReadOnlyValueError,
        SchemaChangedWarning,
        StaleWriteError,
        StateDroppedError,
        StoredValueError,
        StoredValueWarning,
        TypedStateError,
    )
    from typed_state._inspector import inspector
    from typed_state._log import Log
    from typed_state._model import SharedState
    from typed_state._notice import notice
    from typed_state._version import Version
    from typed_state._widgets import WidgetBinding

__all__ = [
    "BackendError",
    "ConfigurationError",
    "DefinitionError",
    "FieldNameError",
    "InvalidKeyError",
    "KeyNotAllowedError",
    "LockLostError",
    "LockTimeoutError",
    "Log",
    "ReadOnlyValueError",
    "SchemaChangedWarning",
    "SharedState",
    "StaleWriteError",
    "StateConfig",
    "StateDroppedError",
    "StoredValueError",
    "StoredValueWarning",
    "TypedStateError",
    "Version",
    "WidgetBinding",
    "inspector",
    "no_rerun",
    "notice",
    "shared_state",
]

__version__ = "0.1.0"

_HOMES = {
    "no_rerun": "_change",
    "StateConfig": "_config",
    "shared_state": "_decorator",
    "inspector": "_inspector",
    "Log": "_log",
    "SharedState": "_model",
    "notice": "_notice",
    "Version": "_version",
    "WidgetBinding": "_widgets",
}
"""Where each public name lives (the errors: ``_errors``)."""

_LOADING = _threading.RLock()


def _resolved(cls: type) -> dict[str, object]:
    """``cls``'s own annotations, evaluated in the module that defines it."""
    namespace = vars(_sys.modules[cls.__module__])
    resolved: dict[str, object] = {}
    for key, value in _inspect.get_annotations(cls).items():
        try:
            resolved[key] = eval(value, namespace) if isinstance(value, str) else value
        except NameError:  # a name imported for type checkers only: left as written
            resolved[key] = value
    return resolved


def _load() -> None:
    """Import the public API (Streamlit with it) and make each name public.

    ``import typed_state`` alone loads nothing heavy: a store, the mypy plugin or a
    worker that needs only part of the package does not import Streamlit through
    this file.  The first public name asked for loads them all, so that tracebacks
    and docs show the public path (typed_state.FieldNameError), not the private
    module a name is defined in.  A class's own annotations are resolved first, in
    its own module: typing.get_type_hints() (autodoc, runtime checkers) would look
    the names up in this package's namespace.
    """
    with _LOADING:
        if "SharedState" in globals():
            return
        found = {
            name: getattr(
                _importlib.import_module(f"{__name__}.{_HOMES.get(name, '_errors')}"), name
            )
            for name in __all__
        }
        for public in found.values():
            if isinstance(public, type) and "__annotations__" in public.__dict__:
                public.__annotations__ = _resolved(public)
            if isinstance(public, type) or (callable(public) and hasattr(public, "__qualname__")):
                public.__module__ = __name__
            else:  # an instance (no_rerun, notice): its class
                type(public).__module__ = __name__
        globals().update(found)


def __getattr__(name: str) -> object:
    if name in __all__:
        _load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
