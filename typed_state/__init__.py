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

# Tracebacks and docs show the public path (typed_state.FieldNameError), not the
# private module a name is defined in.
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type) or (callable(_public) and hasattr(_public, "__qualname__")):
        _public.__module__ = __name__
    else:  # an instance (no_rerun, notice): its class
        type(_public).__module__ = __name__
del _name, _public
