"""``SharedState``: a Pydantic model whose one instance every session shares."""

from __future__ import annotations

import functools
import itertools
import sys

# Imported at run time, not for type checkers only: typing.get_type_hints() on the
# public methods (documentation tools, introspection) resolves these names.
from collections.abc import Callable, Iterable, Iterator, Mapping  # noqa: TC003
from contextlib import AbstractContextManager, contextmanager
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from typed_state import _edits, _members, _presence, _selectors, _streamlit, _widgets
from typed_state._convert import VALIDATING
from typed_state._errors import (
    DefinitionError,
    FieldNameError,
    InvalidKeyError,
    KeyNotAllowedError,
)
from typed_state._gc import maybe_freeze
from typed_state._log import Log  # noqa: TC001 - get_type_hints() resolves the overloads at run time
from typed_state._notice import replay as replay_notices
from typed_state._readonly import editable
from typed_state._version import Version, expected
from typed_state._widgets import WidgetBinding  # noqa: TC001

if TYPE_CHECKING:
    from typed_state._slot import Slot

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_RESERVED = frozenset(
    {
        "allow_key",
        "append",
        "del_item",
        "drop",
        "get",
        "if_versions",
        "key",
        "keys",
        "lock",
        "mutate",
        "notify",
        "presence",
        "presence_by_key",
        "present",
        "present_as",
        "batch",
        "set_item",
        "state_key",
        # A keyword of update(): update(timeout=5.0) set the lock's timeout, not the field.
        "timeout",
        "update",
        "version",
        "widget",
    }
)

_SERIALS = itertools.count(1)
"""Numbers classes in the order they are defined: the newest definition wins."""


class _FieldAccess:
    """Class attribute standing for one field: reads bind, writes validate.

    A data descriptor, so it is found before the instance ``__dict__`` (which
    holds the shared values themselves, for Pydantic's own methods to see).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: SharedState | None, owner: type | None = None) -> Any:
        if instance is None:
            # Pydantic reads class attributes as field declarations when a
            # subclass is created: answer with the declaration itself.
            fields = getattr(owner, "__pydantic_fields__", None) or {}
            return fields.get(self.name, self)
        try:
            slot = instance._ts_slot
        except AttributeError:  # a plain model built by Pydantic (validation)
            return instance.__dict__[self.name]
        return slot.read(self.name)

    def __set__(self, instance: SharedState, value: Any) -> None:
        instance.__setattr__(self.name, value)


class SharedState(BaseModel):
    """A Pydantic model with one instance shared by every session of the server.

    Declare fields as on any Pydantic model; every field needs a default.
    ``Model.get()`` returns the shared instance.  Reading a field in a page binds
    that session (or the ``st.fragment`` it is in) to the field; assigning a field
    validates the value, stores it under the field's lock and, when the value
    changed, re-runs every other session bound to it:

    ```python
    class Counter(SharedState):
        count: int = Field(0, ge=0)

    state = Counter.get()
    if st.button("+1"):
        with state.lock("count"):
            state.count += 1
    st.write(state.count)
    ```

    The backend comes from ``TYPED_STATE_URL``, ``[typed_state] url`` in
    secrets.toml, or ``model_config = StateConfig(typed_state_url=...)`` on the class;
    the default keeps values in this process's memory.
    """

    __slots__ = ("_ts_slot",)
    if TYPE_CHECKING:
        # Not a runtime annotation: typing.get_type_hints() on any SharedState
        # resolves names in ``typed_state``'s namespace (the public __module__).
        _ts_slot: Slot

    model_config = ConfigDict(validate_default=True)
    """Pydantic's configuration; a subclass sets its own with ``StateConfig``, which adds
    typed_state's keys (``typed_state_url``, ``typed_state_ttl``,
    ``typed_state_max_keys``).  Defaults are validated, as a stored value is."""

    __typed_state_namespace__: ClassVar[str]

    def __init__(self, /, **data: Any) -> None:
        if not VALIDATING.get():
            raise TypeError(
                f"{type(self).__name__} is shared: use {type(self).__name__}.get() "
                "rather than creating an instance"
            )
        super().__init__(**data)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if name in _RESERVED:
                raise DefinitionError(
                    f"{cls.__name__}.{name}: the name {name!r} is reserved by SharedState "
                    f"(its methods and parameters: {', '.join(sorted(_RESERVED))}); "
                    "rename the field"
                )
            if info.is_required():
                raise DefinitionError(
                    f"{cls.__name__}.{name} has no default: every field of a shared "
                    "state needs one (Field(default=...) or default_factory), since "
                    "the state exists before anybody writes to it"
                )
            type.__setattr__(cls, name, _FieldAccess(name))
        _check_lifecycle(cls)
        cls.__typed_state_namespace__ = _namespace_of(cls)
        type.__setattr__(cls, "__typed_state_serial__", next(_SERIALS))
        _edits.defined(cls)

    # -- getting instances -----------------------------------------------------

    @classmethod
    def get(cls, key: str | None = None) -> Self:
        """The instance every session shares; with ``key``, one member of a family.

        ```python
        state = Chat.get()               # the one Chat of the server
        room = Chat.get(key="general")   # one room of a family of Chats
        ```
        """
        if key is not None:
            _check_key(cls, key)
        slot = _members.slot_for(cls, key)
        instance = slot.adopt(cls)
        run = slot.touch()
        if run is not None:
            replay_notices(run)  # kept feedback, in a run typed_state pushed
        if slot.backend.shared:
            _presence.start()  # other processes may be counting who is here
        if run is not None:
            _edits.check(cls)
        maybe_freeze()
        return instance  # type: ignore[return-value]  # adopt() returns a cls instance

    @classmethod
    def allow_key(cls, key: str) -> bool:
        """Whether this session may use ``key`` of the family; override to restrict.

        Called by ``get(key=)`` and ``drop(key)`` after the default rule (a
        non-empty printable ``str`` of at most 200 characters); returning False
        raises ``KeyNotAllowedError``.  Without an override a key is a
        shared secret at best: anyone who types it in the URL gets it:

        ```python
        class Room(SharedState):
            @classmethod
            def allow_key(cls, key: str) -> bool:
                return st.user.email in Invites.get().members.get(key, [])
        ```
        """
        return True

    @classmethod
    def keys(cls) -> list[str]:
        """The keys of this class's family that hold values, sorted.

        A member exists from its first write: ``get(key=...)`` alone stores
        nothing.  Reading the keys binds the session like a field: a page
        listing them re-runs when a member is created or deleted (in any
        process sharing the store):

        ```python
        for room in Chat.keys():
            st.page_link("pages/chat.py", label=room, query_params={"room": room})
        ```
        """
        return _members.keys(cls)

    @classmethod
    def presence_by_key(cls) -> dict[str, int]:
        """Per member of the family, how many sessions show it (members nobody shows
        are left out), in every process; binds like ``presence``:

        ```python
        for room, here in Room.presence_by_key().items():
            st.write(f"{room}: {here} here")
        ```
        """
        return _presence.by_key(
            cls.__typed_state_namespace__, _members.family_for(cls, _members.url_of(cls)).backend
        )

    @classmethod
    def drop(cls, key: str) -> bool:
        """Delete one member of the family; False if it held nothing.

        Its readers re-run, the dropping session too, and a later
        ``get(key=...)`` starts again from the defaults.  A write through an
        instance of the dropped member raises ``StateDroppedError``
        (whose message gives the ``get`` to call) rather than bringing the
        member back behind whoever dropped it.
        """
        _check_key(cls, key)
        return _members.drop(cls, key)

    # -- field operations --------------------------------------------------------

    def lock(
        self, *fields: Callable[[Self], object] | str, timeout: float = 30.0
    ) -> AbstractContextManager[None]:
        """Hold the re-entrant locks of ``fields`` for a read-modify-write.

        ```python
        with state.lock(lambda s: s.count):   # or lock("count")
            state.count += 1
        with state.lock(lambda s: (s.lo, s.hi)):
            state.update(lo=state.hi, hi=state.lo)
        ```

        Raises ``LockTimeoutError`` after ``timeout`` seconds.
        """
        slot = self._slot()
        names = _selectors.many(fields)
        slot.check_fields(type(self), names)
        return slot.locked(names, timeout, by_user=True)

    @overload
    def mutate(
        self, field: Callable[[Self], Log[T]], *, timeout: float = ...
    ) -> AbstractContextManager[list[T]]: ...
    @overload
    def mutate(
        self, field: Callable[[Self], T], *, timeout: float = ...
    ) -> AbstractContextManager[T]: ...
    @overload
    def mutate(self, field: str, *, timeout: float = ...) -> AbstractContextManager[Any]: ...
    def mutate(
        self, field: Callable[[Self], Any] | str, *, timeout: float = 30.0
    ) -> AbstractContextManager[Any]:
        """Edit a field's value in place, under its lock; stored on exit.

        The block gets a copy of the value; when it ends without an exception
        the copy is validated and stored (and readers re-run if it changed).
        An exception in the block leaves the stored value as it was:

        ```python
        with state.mutate(lambda s: s.messages) as messages:   # a list[Message]
            messages.append(Message(author="ann", text="hi"))
        ```
        """
        return self._mutate(_selectors.one(field), timeout)

    @contextmanager
    def _mutate(self, field: str, timeout: float) -> Iterator[Any]:
        slot = self._slot()
        slot.check_fields(type(self), (field,))
        with slot.locked(slot.write_locks(slot.cls, (field,)), timeout):
            slot.refuse_unreadable((field,), "mutate() of")
            draft = editable(slot.values[field])
            yield draft
            slot.assign(type(self), {field: draft}, timeout)

    def update(
        self,
        *,
        timeout: float = 30.0,
        if_versions: Mapping[str, int] | Version | Iterable[Version] | None = None,
        **values: Any,
    ) -> None:
        """Assign several fields at once: validated together, all or nothing.

        With ``if_versions`` (versions from ``version``, or field -> version),
        nothing is stored unless every field named is still at that version, checked
        under the fields' locks and, in a shared store, atomically with the write;
        otherwise ``StaleWriteError`` says which fields moved on:

        ```python
        state.update(count=0, messages=[])
        seen = doc.version(lambda d: d.text)   # when the user started editing
        doc.update(text=edited, if_versions=seen)
        ```

        ``batch`` does the same with attribute assignments, which every type
        checker checks (field names given as keywords need the mypy plugin).
        """
        self._slot().assign(type(self), values, timeout, expected(if_versions))

    def batch(
        self,
        *,
        if_versions: Mapping[str, int] | Version | Iterable[Version] | None = None,
        timeout: float = 30.0,
    ) -> AbstractContextManager[Self]:
        """Several fields assigned in a block, stored on exit as one ``update``.

        The block gets a draft typed as the state: its assignments are recorded (a
        misspelt field is a ``FieldNameError`` at once, and an error in every
        type checker), its reads see the values assigned so far, and on exit they are
        validated together and stored all or nothing, with one push.  An exception in
        the block stores nothing:

        ```python
        with doc.batch(if_versions=seen) as new:
            new.text = draft
            new.edits = new.edits + 1
        ```
        """
        return self._batch(expected(if_versions), timeout)

    @contextmanager
    def _batch(self, expect: dict[str, int], timeout: float) -> Iterator[Self]:
        draft = _Draft(self)
        yield draft  # type: ignore[misc]  # a stand-in with the state's attributes
        assigned = object.__getattribute__(draft, "assigned")
        if assigned or expect:
            self._slot().assign(type(self), assigned, timeout, expect)

    @overload
    def append(
        self,
        field: Callable[[Self], list[T] | Log[T]],
        *items: T,
        keep_last: int | None = ...,
        timeout: float = ...,
    ) -> None: ...
    @overload
    def append(
        self, field: str, *items: Any, keep_last: int | None = ..., timeout: float = ...
    ) -> None: ...
    def append(
        self,
        field: Callable[[Self], list[Any] | Log[Any]] | str,
        *items: Any,
        keep_last: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Add ``items`` at the end of a list (or ``Log``) field: one change, one push.

        Validates only the new items (against the list's item type) and the
        field's ``min_length`` / ``max_length``, under the field's lock, so its
        cost does not grow with the list; in a shared store only the items are stored and sent.
        ``keep_last`` drops the oldest items beyond that many, in the same step:

        ```python
        chat.append(lambda c: c.messages, Message(author="ann", text="hi"), keep_last=500)
        ```

        A field with a field validator, or a class with a model validator, has
        its whole new value validated instead, as an assignment would.

        The new value is a new list: the old one, which readers may hold, never
        changes. Copying its items costs 0.8 ms at 100,000 and 17 ms at 1,000,000;
        declare a field that grows long as a `Log` to add the new items alone.
        """
        if keep_last is not None and (
            isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1
        ):
            raise ValueError(f"keep_last is a number of items, at least 1, not {keep_last!r}")
        name = _selectors.one(field)
        self._slot().edit(type(self), name, "append", (items, keep_last), timeout)

    @overload
    def set_item(
        self, field: Callable[[Self], dict[K, V]], key: K, value: V, *, timeout: float = ...
    ) -> None: ...
    @overload
    def set_item(
        self,
        field: Callable[[Self], list[T] | Log[T]],
        key: int,
        value: T,
        *,
        timeout: float = ...,
    ) -> None: ...
    @overload
    def set_item(self, field: str, key: Any, value: Any, *, timeout: float = ...) -> None: ...
    def set_item(
        self,
        field: Callable[[Self], Any] | str,
        key: Any,
        value: Any,
        *,
        timeout: float = 30.0,
    ) -> None:
        """Set one item of a dict field (``key``) or list field (an int index).

        Validates the key and value only; nothing is stored (and nobody re-run)
        if the item already equals ``value``:

        ```python
        scores.set_item(lambda s: s.points, "alice", 3)
        ```
        """
        self._slot().edit(type(self), _selectors.one(field), "set_item", (key, value), timeout)

    @overload
    def del_item(
        self, field: Callable[[Self], dict[K, Any]], key: K, *, timeout: float = ...
    ) -> None: ...
    @overload
    def del_item(
        self, field: Callable[[Self], list[Any] | Log[Any]], key: int, *, timeout: float = ...
    ) -> None: ...
    @overload
    def del_item(self, field: str, key: Any, *, timeout: float = ...) -> None: ...
    def del_item(
        self, field: Callable[[Self], Any] | str, key: Any, *, timeout: float = 30.0
    ) -> None:
        """Remove one item of a dict field (``key``) or list field (an int index).

        Raises ``KeyError`` / ``IndexError`` when there is no such item:

        ```python
        scores.del_item(lambda s: s.points, "alice")
        ```
        """
        self._slot().edit(type(self), _selectors.one(field), "del_item", (key,), timeout)

    def presence(self) -> int:
        """How many live sessions show this state: their latest run used it (``get()``
        or a field read), in this process and, in a shared store, in every process.

        Reading it binds the session like a field: when someone opens or closes a
        tab, navigates away or stops reading the state, the sessions that show
        the count re-run (within about a second; a replica that died drops out
        within 15 s).  A session counts once however many fields it reads:

        ```python
        st.caption(f"{room.presence()} here")
        ```
        """
        return len(_presence.shown(self._slot()))

    def present(self) -> list[str]:
        """The labels the sessions showing this state gave with ``present_as``,
        sorted; binds like ``presence``.  Sessions without a label are not listed."""
        return sorted(label for label in _presence.shown(self._slot()) if label is not None)

    def present_as(self, label: str) -> None:
        """Say who this session is, for ``present`` (call it on every run, e.g.
        ``room.present_as(name)`` with a name the user typed, or ``st.user.name`` in an
        app with login).  Nothing is shown that no session set."""
        if not isinstance(label, str) or not label or len(label) > 100:
            raise ValueError(f"a presence label is a str of 1 to 100 characters, not {label!r}")
        slot = self._slot()
        run = _streamlit.current_run()
        if run is not None:
            _presence.present_as(run, slot.namespace, label)

    def version(self, field: Callable[[Self], object] | str) -> Version:
        """How many changes of ``field`` were stored: 0 until its first write.

        The same in every process of a shared store, kept where the store persists.
        Reading it binds the session like reading the field.  A ``Version`` is an
        ``int`` that knows its field: pass it back as ``update(..., if_versions=v)``
        (or ``batch(if_versions=[v, w])``) for a write that fails if somebody else
        wrote meanwhile.
        """
        name = _selectors.one(field)
        slot = self._slot()
        slot.check_fields(type(self), (name,))
        return Version(slot.version(name), name)

    def widget(
        self, field: Callable[[Self], object] | str, *, key: str | None = None
    ) -> WidgetBinding:
        """Keyword arguments that bind a Streamlit widget to ``field``.

        Everybody's widget shows the shared value, and a user's change writes it
        (validated; a rejected value snaps back and shows the error as a toast).
        Works with every widget that holds a value (slider, checkbox, toggle,
        radio, selectbox, multiselect, text_input, number_input, date_input, ...)
        and inside fragments.  Do not pass ``value=``: the field is the value:

        ```python
        st.slider("Level", 0, 10, **knob.widget(lambda k: k.level))
        st.checkbox("Done", **todo.widget("done"))
        ```

        ``key`` names the widget (the default derives one from the state and
        field); give one to show the same field in two widgets of one page.
        """
        return _widgets.bind(self, _selectors.one(field), key)

    def notify(self, *fields: Callable[[Self], object] | str) -> None:
        """Re-run the sessions bound to ``fields`` (all but the caller's own).

        For changes typed_state cannot see, such as writes inside ``no_rerun``:

        ```python
        state.notify(lambda s: s.prices)
        ```
        """
        self._slot().notify(type(self), _selectors.many(fields))

    # -- plumbing -----------------------------------------------------------------

    def _slot(self) -> Slot:
        try:
            return self._ts_slot
        except AttributeError:
            raise TypeError(
                f"this {type(self).__name__} is a plain model, not the shared "
                f"instance; use {type(self).__name__}.get()"
            ) from None

    if not TYPE_CHECKING:
        # Hidden from type checkers, as in Pydantic's BaseModel: a visible __setattr__
        # would make mypy accept assignments to misspelt attributes.

        def __setattr__(self, name: str, value: Any) -> None:
            try:
                slot = self._ts_slot
            except AttributeError:
                super().__setattr__(name, value)
                return
            if name in type(self).model_fields:
                slot.assign(type(self), {name: value})
            elif name.startswith("_"):
                super().__setattr__(name, value)
            else:
                raise FieldNameError(slot.title, name, type(self).model_fields)

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"cannot delete {type(self).__name__}.{name}")

        def __getattr__(self, name: str) -> Any:
            # Only for names Python found nowhere else: a misspelt field (chat.cout)
            # is then a FieldNameError, which `except TypedStateError` catches too.
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name.startswith("_"):
                    raise
                try:
                    title = self._ts_slot.title
                except AttributeError:  # not bound to a slot (yet)
                    title = type(self).__name__
                raise FieldNameError(title, name, type(self).model_fields) from None

    def __copy__(self) -> Self:
        raise TypeError(
            f"{type(self).__name__} is shared and cannot be copied; use "
            "model_dump() or model_copy() for a detached snapshot"
        )

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        return self.__copy__()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A detached snapshot (a plain model, not shared), as in Pydantic."""
        values = dict(self.__dict__)
        if deep:
            values = deepcopy(values)
        if update:
            values.update(update)
        return type(self).model_construct(**values)  # type: ignore[return-value]


class _Draft:
    """What ``batch()`` yields: the state's attributes, assignments recorded.

    Reads see the values assigned in the block so far, else the state's; assigning a
    name the class does not declare raises ``FieldNameError`` at once.
    """

    __slots__ = ("assigned", "state")

    def __init__(self, state: SharedState) -> None:
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "assigned", {})

    def __getattr__(self, name: str) -> Any:
        assigned: dict[str, Any] = object.__getattribute__(self, "assigned")
        if name in assigned:
            return assigned[name]
        return getattr(object.__getattribute__(self, "state"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        state: SharedState = object.__getattribute__(self, "state")
        if name not in type(state).model_fields:
            slot = state._slot()
            raise FieldNameError(slot.title, name, type(state).model_fields)
        object.__getattribute__(self, "assigned")[name] = value

    def __repr__(self) -> str:
        state = object.__getattribute__(self, "state")
        assigned = object.__getattribute__(self, "assigned")
        return f"<batch of {state._slot().title}: {assigned!r}>"


def _namespace_of(cls: type[SharedState]) -> str:
    """Module and qualified name; for a page script, its file too.

    Streamlit runs every page as ``__main__``; two pages declaring a class of
    the same name must not share (or flip between) two schemas.
    """
    module = cls.__module__
    if module == "__main__":
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals.get("__name__") == "__main__":
                module = f"__main__:{_page_path(frame.f_code.co_filename)}"
                break
            frame = frame.f_back  # type: ignore[assignment]
    return f"{module}.{cls.__qualname__}"


@functools.cache
def _page_path(filename: str) -> str:
    """A page script's path relative to the main script's folder, when it is inside it.

    Replicas installed at different paths then agree on the namespace, which
    names the values in a shared store.  Cached: a page script declaring its
    class runs this on every run, and ``resolve()`` asks the filesystem.
    """
    path = Path(filename).resolve()
    if sys.argv and sys.argv[0]:
        root = Path(sys.argv[0]).resolve().parent
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.as_posix()


MAX_KEY_LENGTH = 200


def _check_key(cls: type[SharedState], key: str) -> None:
    """The default rule for keys, then the class's own ``allow_key``."""
    if not isinstance(key, str):
        raise InvalidKeyError(cls.__name__, key, f"a key is a str, not {type(key).__name__}")
    if not key:
        raise InvalidKeyError(cls.__name__, key, "a key cannot be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            cls.__name__, key[:20] + "...", f"a key has at most {MAX_KEY_LENGTH} characters"
        )
    if not key.isprintable():
        raise InvalidKeyError(cls.__name__, key, "a key has no control characters")
    if not cls.allow_key(key):
        raise KeyNotAllowedError(cls.__name__, key)


def _check_lifecycle(cls: type[SharedState]) -> None:
    """``typed_state_ttl`` and ``typed_state_max_keys``, checked when the class is made."""
    config = cls.model_config
    ttl = config.get("typed_state_ttl")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0
    ):
        raise DefinitionError(
            f"{cls.__name__}: typed_state_ttl is a number of seconds above 0, not {ttl!r}"
        )
    max_keys = config.get("typed_state_max_keys")
    if max_keys is not None and (
        isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1
    ):
        raise DefinitionError(
            f"{cls.__name__}: typed_state_max_keys is a whole number of members, at least 1, "
            f"not {max_keys!r}"
        )


def reset_slots() -> None:
    """Forget every state instance and family (tests)."""
    _members.reset()
