"""The exceptions and warnings typed_state raises.

Every error a user can meet is a named class under ``TypedStateError``;
each also derives from the built-in it refines, so ``except AttributeError``
and friends keep working:

```python
TypedStateError
├── DefinitionError        (TypeError)     a SharedState class cannot be used as declared
├── FieldNameError         (AttributeError) a field name that the state does not have
├── LockTimeoutError       (TimeoutError)  a field lock was not acquired in time
├── ConfigurationError     (ValueError)    a backend URL or setting is not usable
├── StateDroppedError      (LookupError)   a write to a key removed by ``drop()``
├── StaleWriteError                        a conditional write found newer versions
├── InvalidKeyError        (ValueError)    a family key that is not a short printable text
├── KeyNotAllowedError     (PermissionError) a key the class's ``allow_key`` refuses
├── ReadOnlyValueError     (TypeError)     an in-place change of a value read from a state
├── LockLostError                          a lock's lease ran out while it was held
├── StoredValueError       (ValueError)    a write would build on a stored value it cannot read
└── BackendError           (ConnectionError) the store failed to read or write

SchemaChangedWarning       (UserWarning)   a state's class changed; some values were reset
StoredValueWarning         (UserWarning)   a stored value did not validate; the default is used
```

Each error names what it is about in the same attributes where they apply:
``state`` (the class's name, with the key of a family's member: ``Room['r1']``),
``field`` and ``key``; its message says how to fix it.

Failed validation is not wrapped: a write that does not validate raises
``pydantic.ValidationError``, as Pydantic users expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class TypedStateError(Exception):
    """Base class of every error raised by typed_state."""


class DefinitionError(TypedStateError, TypeError):
    """A ``typed_state.SharedState`` subclass cannot be used as declared.

    Raised when the class is created, for example when a field has no default
    (a shared state must be constructible before anybody writes to it).
    """


class FieldNameError(TypedStateError, AttributeError):
    """A field name that the state class does not declare.

    Raised by attribute assignment, ``typed_state.SharedState.lock``,
    ``typed_state.SharedState.mutate``, ``typed_state.SharedState.notify``
    and ``typed_state.SharedState.update``.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    field: str
    """The field name the class does not declare."""

    def __init__(self, state: str, name: str, fields: Iterable[str]) -> None:
        known = ", ".join(sorted(fields)) or "(none)"
        super().__init__(f"{state} has no field {name!r}; its fields are: {known}")
        self.state = state
        self.field = name

    @property
    def model(self) -> str:
        """The state's class name (``state``, under its first name)."""
        return self.state


class LockTimeoutError(TypedStateError, TimeoutError):
    """A field lock could not be acquired within its timeout.

    Nothing was written. Another thread (or, in a shared store, another process)
    held the lock for the whole timeout.  ``state``, ``fields`` (``field``: the
    first) and ``timeout`` say which lock and how long it was waited for.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    fields: tuple[str, ...]
    """The fields whose locks were asked for."""

    field: str
    """The first of ``fields``."""

    timeout: float
    """How long the locks were waited for, in seconds."""

    def __init__(self, state: str, fields: Iterable[str], timeout: float) -> None:
        self.state = state
        self.fields = tuple(fields)
        self.field = self.fields[0] if self.fields else ""
        self.timeout = timeout
        super().__init__(
            f"could not lock {state}.{{{', '.join(self.fields)}}} within {timeout:g} s: "
            "another thread or process holds it. Keep locked blocks short (no slow calls "
            "inside them), or wait longer with timeout="
        )

    @property
    def model(self) -> str:
        """The state's name (``state``, under its first name)."""
        return self.state


class ReadOnlyValueError(TypedStateError, TypeError):
    """A value read from a shared state was changed in place.

    Values read from a state are read-only at any depth (lists, dicts, sets,
    nested models), because an in-place change would skip validation, the
    field's lock and the push to the other sessions.  Edit a copy under the
    lock with ``mutate()``, or assign a new value:

    ```python
    with chat.mutate("messages") as messages:
        messages.append(Message(author="ann", text="hi"))
    ```

    ``state``, ``field`` and ``action`` say what was refused.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    field: str
    """The field the value was read from."""

    action: str
    """What was refused, in words: ``append to``, ``set an item of``, ..."""

    def __init__(self, state: str, field: str, action: str) -> None:
        var = _snake(state)
        adding = (
            f'; items at the end of the field\'s own list: {var}.append("{field}", item)'
            if action in ("append to", "extend")
            else ""
        )
        super().__init__(
            f"{state}.{field} is read-only (cannot {action} it): a value read from a "
            f'shared state never changes in place. Edit it with: with {var}.mutate("{field}") '
            f"as {field}: ..., or assign a new value: {var}.{field} = ...{adding}"
        )
        self.state = state
        self.field = field
        self.action = action


def _snake(name: str) -> str:
    """``ChatRoom`` -> ``chat_room``: how the message names the state's variable."""
    out = [name[0].lower()] if name else []
    for char in name[1:]:
        if char.isupper():
            out.append("_")
        out.append(char.lower())
    return "".join(out)


class ConfigurationError(TypedStateError, ValueError):
    """A backend URL or a typed_state setting is not usable."""


class BackendError(TypedStateError, ConnectionError):
    """The store behind the state failed; the operation did not take effect.

    Raised when Redis is unreachable or fails a command, or an SQLite file
    cannot be opened or written (corrupt, read-only, its folder missing).  A
    write that raises it stored nothing; the app keeps serving, and typed_state
    reconnects (or opens the file again) by itself when the store is back.
    ``url`` (Redis password masked; the SQLite file's path) and ``action`` say
    which store and what failed.
    """

    url: str
    """The store's URL (a password masked) or the SQLite file's path; empty where none applies."""

    action: str
    """What failed, in words (``read Chat``, ``write Chat.count``); empty where none applies."""

    def __init__(self, message: str, *, url: str = "", action: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.action = action


class LockLostError(TypedStateError):
    """A field lock expired (its lease ran out) before it was released.

    With Redis, a lock is a lease, so that a crashed process cannot block the
    others forever: ``lock_lease`` seconds (``TYPED_STATE_LOCK_LEASE``, 10 by
    default), renewed in the background while its holder runs.  A holder that
    could not renew it in time (a process stalled longer than the lease) has
    lost it: its writes are refused from then on (nothing is stored after the
    lease ran out), and releasing it raises this error too.  ``state``, ``key``
    (of a family's member, else None), ``field`` and ``lease`` say which lock.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    key: str | None
    """The key of the family's member, or None for a state without a key."""

    field: str
    """The field whose lock was lost."""

    lease: float
    """The lease the lock had, in seconds (``lock_lease``)."""

    def __init__(
        self, message: str, *, state: str, field: str, lease: float, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.state = state
        self.key = key
        self.field = field
        self.lease = lease


class SchemaChangedWarning(UserWarning):
    """A state's class changed while the server ran, and some values were reset.

    Values that still validate against the new class are kept; the warning
    names the fields that were reset to their defaults or removed, and why.
    """


class StoredValueWarning(UserWarning):
    """A value read from the store does not validate against the field's type.

    Another replica may run an older or newer schema, or the data is corrupt.
    The field shows its default in this process; the stored value is left as
    it is, and the next write to the field replaces it.
    """


class StoredValueError(TypedStateError, ValueError):
    """A write that would build on a stored value this definition of the class cannot read.

    The field shows its default in place of the stored value (see
    ``StoredValueWarning``): an item operation, a ``mutate()``, a conditional
    write or an assignment under the field's ``lock()`` would store the default with
    the change and lose the stored value, for every version of the class.  Nothing
    was stored.  Migrate the stored value (a ``field_validator(..., mode="before")``
    that reads the old shape), or overwrite it on purpose with a plain assignment.
    ``state``, ``key``, ``field``, ``stored`` (the stored JSON, in short) and
    ``reason`` (why it does not validate) say which.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    key: str | None
    """The key of the family's member, or None for a state without a key."""

    field: str
    """The field whose stored value this class cannot read."""

    stored: str
    """The stored JSON, shortened for the message."""

    reason: str
    """Why the stored value does not validate, as Pydantic says it."""

    def __init__(
        self, *, state: str, key: str | None, field: str, stored: str, reason: str, action: str
    ) -> None:
        super().__init__(
            f"{action} {state}.{field} was refused: the store holds {stored}, which this "
            f"definition of the class cannot read ({reason}), so the write would build on "
            "the default shown in its place and lose the stored value. Nothing was stored. "
            "Migrate the stored value with a field_validator(mode='before') that reads its "
            f"shape, or overwrite it on purpose: state.{field} = new_value (no lock held)."
        )
        self.state = state
        self.key = key
        self.field = field
        self.stored = stored
        self.reason = reason


class StateDroppedError(TypedStateError, LookupError):
    """A write through an instance whose key was dropped with ``drop()``.

    Call ``Model.get(key)`` again: it starts the key afresh from its defaults.
    ``state`` (the class name) and ``key`` say which member.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    key: str | None
    """The key of the family's member, or None for a state without a key."""

    def __init__(self, message: str, *, state: str, key: str | None) -> None:
        super().__init__(message)
        self.state = state
        self.key = key


class InvalidKeyError(TypedStateError, ValueError):
    """A family key that is not a non-empty printable ``str`` of at most 200 characters.

    Keys often come from the URL (``?room=...``): anyone can type any key.
    ``key`` is the key refused; the message is meant to be shown in the page.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    key: object
    """The key that was refused, as given."""

    def __init__(self, state: str, key: object, reason: str) -> None:
        super().__init__(f"{key!r} is not a valid {state} key: {reason}")
        self.state = state
        self.key = key


class KeyNotAllowedError(TypedStateError, PermissionError):
    """A family key that the class's ``allow_key(key)`` classmethod refused.

    ``state`` and ``key`` say which; the message is meant to be shown in the page.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    key: str
    """The key that ``allow_key`` refused."""

    def __init__(self, state: str, key: str) -> None:
        super().__init__(f"{state} {key!r} is not open to you")
        self.state = state
        self.key = key


class StaleWriteError(TypedStateError):
    """A conditional write (``update(..., if_versions=...)``) found a field changed.

    Somebody stored a change of a field since the version the writer expected,
    so nothing was stored: reload and merge, or write again without the
    condition to overwrite.  ``state`` names the state and ``conflicts`` maps
    each stale field to ``(expected, found)`` versions.
    """

    state: str
    """The state's class name, with the key of a family's member (``Room['r1']``)."""

    conflicts: dict[str, tuple[int, int]]
    """Each stale field's ``(expected, found)`` versions."""

    def __init__(self, state: str, conflicts: dict[str, tuple[int, int]]) -> None:
        detail = ", ".join(
            f"{state}.{name} is at version {found}, not {expected}"
            for name, (expected, found) in sorted(conflicts.items())
        )
        super().__init__(
            f"nothing was stored: somebody changed it meanwhile ({detail}); "
            "reload the value, or write without if_versions to overwrite"
        )
        self.state = state
        self.conflicts = conflicts
