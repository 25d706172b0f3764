"""Typed, validated, server-wide shared state for Streamlit, on Pydantic v2.

::

    from typed_state import SharedState, notice

    class Counter(SharedState):
        count: int = 0

    state = Counter.get()      # the instance every session of the server shares
    st.write(state.count)      # this session now re-runs when `count` changes
    if st.button("+1"):
        state.count += 1
        notice.success("Saved")  # stays through the catch-up run that shows 1
"""

import inspect as _inspect
import sys as _sys

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
    StoredValueWarning,
    TypedStateError,
)
from typed_state._inspector import inspector
from typed_state._model import SharedState
from typed_state._notice import notice
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
    "ReadOnlyValueError",
    "SchemaChangedWarning",
    "SharedState",
    "StaleWriteError",
    "StateConfig",
    "StateDroppedError",
    "StoredValueWarning",
    "TypedStateError",
    "WidgetBinding",
    "inspector",
    "no_rerun",
    "notice",
    "shared_state",
]

__version__ = "0.1.0"


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


# Tracebacks and docs show the public path (typed_state.FieldNameError), not the
# private module a name is defined in.  A class's own annotations are resolved
# first, in its own module: typing.get_type_hints() (autodoc, runtime checkers)
# would look the names up in this package's namespace.
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type) and "__annotations__" in _public.__dict__:
        _public.__annotations__ = _resolved(_public)
    if isinstance(_public, type) or (callable(_public) and hasattr(_public, "__qualname__")):
        _public.__module__ = __name__
    else:  # an instance (no_rerun, notice): its class
        type(_public).__module__ = __name__
del _name, _public, _resolved
