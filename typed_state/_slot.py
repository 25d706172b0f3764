"""One shared state instance at run time: its values, locks, class and writes.

A slot lives as long as its namespace (a class and a key) and outlives the
classes that view it: when a page script re-defines its state class on every
run, every version of the class reads and writes the same slot.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from typed_state import _items, _journal, _streamlit
from typed_state._backends._base import WRITE_DEADLINE, Append, StaleVersions, Write
from typed_state._backends._codec import codec_for, too_deep
from typed_state._change import differs, no_rerun, reassigned_in_place
from typed_state._convert import accepting_earlier_models, map_models, validating
from typed_state._engine import FieldKey, engine
from typed_state._errors import (
    FieldNameError,
    LockTimeoutError,
    SchemaChangedWarning,
    StaleWriteError,
    StateDroppedError,
    StoredValueError,
)
from typed_state._readonly import ATOMIC

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from typed_state._backends import Backend
    from typed_state._backends._codec import FieldCodec
    from typed_state._model import SharedState
    from typed_state._streamlit import Run

_LOGGER = logging.getLogger("typed_state")


class Family(Protocol):
    """The family a member's slot belongs to (``_members.Family``), as slots see it."""

    def created(self, writer: Run | None) -> None:
        """A write created the member in the store."""
        ...

    def forget(self, namespace: str) -> None:
        """This process no longer holds the member."""
        ...


DEFAULT_LOCK_TIMEOUT = 30.0
"""Seconds a write or ``lock()`` waits for a field lock before raising."""

_HELD = threading.local()
"""Per thread, how many times each field's lock is held through ``lock()``: a write there
is a read-modify-write, which must not build on a value the class could not read."""


def _held_by_lock() -> dict[tuple[str, str], int]:
    try:
        held: dict[tuple[str, str], int] = _HELD.counts
    except AttributeError:
        held = _HELD.counts = {}
    return held


@dataclass
class _Migration:
    """What a change of a state's class did to its values."""

    shared: bool = False
    """Read again from a shared store (else validated in this process's memory)."""
    reset: dict[str, str] = field(default_factory=dict)
    """Field -> why its value no longer validates (it shows its default)."""
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    """Fields whose value kept aside came back (the class was reverted)."""


class Slot:
    """The run-time home of one state instance (one class and key)."""

    def __init__(
        self,
        cls: type[SharedState],
        namespace: str,
        key: str | None,
        backend: Backend,
        family: Family | None = None,
    ) -> None:
        self.namespace = namespace
        self.key = key
        self.backend = backend
        self.family = family
        self.cls = cls
        self.dropped = False
        """Deleted (``drop()``, expiry, another process): writes through it are refused."""
        self._class_lock = threading.Lock()
        codec = codec_for(cls)
        existing = backend.load(namespace, codec)
        if existing is None and key is not None:
            # A member exists from its first write: reading one stores nothing
            # (nobody grows the store by typing keys in the URL).
            self.values = backend.attach(namespace, _defaults(cls, codec), codec)
        elif existing is None or any(name not in existing for name in cls.model_fields):
            # The one instance of a class is stored at once: every process then
            # shows the same defaults, even those a default_factory makes.
            self.values = backend.create(namespace, _defaults(cls, codec), codec)
        else:
            self.values = existing
        self.instance = _new_instance(cls, self)
        self.field_keys: dict[str, FieldKey] = {n: (namespace, n) for n in self.values}
        self.last_writes: dict[str, _journal.Write] = {}
        """Each field's latest write seen by this process (for the inspector)."""
        self.stash: dict[str, Any] = {}
        """Values a class change reset or removed, kept until the field is written:
        reverting the class brings them back."""
        engine().name(namespace, self.title)
        backend.watch(namespace, self._changed_elsewhere)

    @property
    def title(self) -> str:
        """How error messages name this state: ``Chat`` or ``Chat['room-1']``."""
        return _title(self.cls, self.key)

    # -- class changes --------------------------------------------------------------

    def adopt(self, cls: type[SharedState]) -> SharedState:
        """The instance to hand out for ``cls``, following a change of class.

        Only a newer definition of the class changes the schema: an older one
        (held by a thread the app started before the class was edited) gets a
        view of the same values, and its writes validate against the newest.
        """
        instance = self.instance
        if type(instance) is cls:
            return instance
        with self._class_lock:
            if type(self.instance) is cls:
                return self.instance
            if _serial(cls) < _serial(self.cls):
                return _new_instance(cls, self)
            if _fingerprint(cls) != _fingerprint(self.cls):
                self._migrate(cls)
            self.cls = cls
            self.instance = _new_instance(cls, self)
            return self.instance

    def _migrate(self, cls: type[SharedState]) -> None:
        """Carry the values over to a changed class: keep what validates.

        In this process's memory, a value that no longer validates is reset to its
        default and kept aside (as is a removed field's), so that reverting the class
        brings it back, until the field is written.  A shared store keeps every value
        as it was written: the new class reads them again, through its own validation
        (a before-validator it gained migrates them), and reverting it reads them again.
        """
        old_names = sorted(self.values)
        with self.locked(sorted(set(old_names) | set(cls.model_fields))):
            old = dict(self.values)
            codec = codec_for(cls)
            change = self._reread(cls, codec, old) if self.backend.shared else None
            if change is None:
                change = self._revalidate(cls, codec, old)
            self.field_keys = {n: (self.namespace, n) for n in cls.model_fields}
        self._report(cls, change)

    def _reread(
        self, cls: type[SharedState], codec: FieldCodec, old: Mapping[str, Any]
    ) -> _Migration | None:
        """The stored values read again through ``cls``; None if nothing is stored."""
        if self.backend.load(self.namespace, codec) is None:
            return None
        change = _Migration(shared=True)
        for name in cls.model_fields:
            found = self.backend.unreadable(self.namespace, name)
            if found is not None:
                change.reset[name] = found.reason
            elif name not in old:
                change.added.append(name)
        change.removed = [n for n in old if n not in cls.model_fields]
        return change

    def _revalidate(
        self, cls: type[SharedState], codec: FieldCodec, old: Mapping[str, Any]
    ) -> _Migration:
        """This process's values validated by ``cls``; what fails kept aside."""
        change = _Migration()
        fresh = _defaults(cls, codec)
        shadow = cls.model_construct(**fresh)
        new: dict[str, Any] = {}
        for name in cls.model_fields:
            candidates = [self.stash[name]] if name in self.stash else []
            if name in old:
                candidates.append(old[name])
            problem = None
            for candidate in candidates:
                try:
                    value = _validate_one(cls, shadow, name, candidate)
                except ValidationError as exc:
                    problem = problem or _reason(exc)
                    continue
                new[name] = codec.freeze(name, value)
                if name in self.stash and candidate is self.stash[name]:
                    del self.stash[name]
                    change.restored.append(name)
                break
            else:
                new[name] = fresh[name]
                if problem is not None and name in old:
                    self.stash.setdefault(name, old[name])
                    change.reset[name] = problem
        change.removed = [n for n in old if n not in cls.model_fields]
        for name in change.removed:
            self.stash[name] = old[name]
        change.added = [n for n in cls.model_fields if n not in old and n not in change.restored]
        self.backend.replace(self.namespace, new, codec)
        return change

    def _report(self, cls: type[SharedState], change: _Migration) -> None:
        """Say what a change of class did to the values, and re-run their readers."""
        title = _title(cls, self.key)
        if change.reset or change.removed:
            parts = []
            if change.reset:
                reasons = (f"{name} ({why})" for name, why in change.reset.items())
                parts.append("reset to default: " + ", ".join(reasons))
            if change.removed:
                parts.append("removed: " + ", ".join(change.removed))
            if change.added:
                parts.append("added: " + ", ".join(change.added))
            if change.restored:
                parts.append("restored: " + ", ".join(change.restored))
            kept = (
                "The stored values stay as they are until the fields are written: reverting "
                "the class, or a before-validator that reads them, brings them back."
                if change.shared
                else "The old values are kept aside until the fields are written: reverting "
                "the class brings them back."
            )
            message = (
                f"typed_state: the fields of {title} changed; kept what still validates; "
                f"{'; '.join(parts)}. {kept}"
            )
            warnings.warn(message, SchemaChangedWarning, stacklevel=5)
            # The developer looks at the page, not the terminal.
            _streamlit.warn_in_page(message)
        elif change.added or change.restored:
            gained = ", ".join([*change.added, *change.restored])
            _LOGGER.info("typed_state: %s gained fields: %s", title, gained)
        names = (*change.reset, *change.removed, *change.added, *change.restored)
        if names:
            engine().changed([(self.namespace, n) for n in names], _streamlit.current_run())

    # -- reads --------------------------------------------------------------------------

    def read(self, name: str) -> Any:
        """A field's value, binding the current session (or fragment) to it."""
        key = self.field_keys.get(name)
        if key is None:  # an older class's field, gone from the newest
            raise FieldNameError(self.title, name, self.cls.model_fields)
        run = _streamlit.current_run()
        if run is not None:
            # Bind before reading: a write in between leaves the binding stale,
            # so the session is re-run rather than left showing the old value.
            engine().bind(run, key)
        return self.values[name]

    def version(self, name: str) -> int:
        """How many changes of the field were stored; binds like a read of it."""
        self.read(name)
        return self.backend.version(self.namespace, name)

    def touch(self) -> Run | None:
        """Note that the current run uses this state (a ``get()``); that run, if any."""
        run = _streamlit.current_run()
        if run is not None:
            engine().touch(run, self.namespace)
        return run

    # -- locks -----------------------------------------------------------------------

    def check_fields(self, cls: type[BaseModel], names: Sequence[str]) -> None:
        """Raise ``FieldNameError`` for a name ``cls`` does not declare."""
        fields = cls.model_fields
        for name in names:
            if name not in fields:
                raise FieldNameError(_title(cls, self.key), name, fields)

    def write_locks(self, cls: type[BaseModel], names: Sequence[str]) -> Sequence[str]:
        """The locks a write of ``names`` takes: theirs, or every field's where the class
        has a model validator, which must see (and keep) a combination of values no
        other write changes meanwhile (``lo <= hi`` written as ``lo`` and ``hi`` apart)."""
        if cls.__pydantic_decorators__.model_validators:
            return list(cls.model_fields)
        return names

    @contextmanager
    def locked(
        self, names: Sequence[str], timeout: float = DEFAULT_LOCK_TIMEOUT, *, by_user: bool = False
    ) -> Iterator[None]:
        """Hold the locks of ``names`` (taken in sorted order: no deadlock); ``by_user``:
        for ``lock()``, so that writes in the block count as read-modify-writes.

        Every lock taken is released, even when releasing another one raises
        (a Redis lease that ran out): the first such error is raised after.
        """
        if by_user:
            held = _held_by_lock()
            for key in [(self.namespace, name) for name in set(names)]:
                held[key] = held.get(key, 0) + 1
        try:
            with self._locks(names, timeout):
                yield
        finally:
            if by_user:
                for key in [(self.namespace, name) for name in set(names)]:
                    held[key] -= 1
                    if not held[key]:
                        del held[key]

    def refuse_unreadable(self, names: Iterable[str], action: str) -> None:
        """Raise ``StoredValueError`` for a field among ``names`` whose stored value
        the class could not read (it shows its default): a write built on it would
        store the default and lose the stored value."""
        for name in names:
            found = self.backend.unreadable(self.namespace, name)
            if found is not None:
                raise StoredValueError(
                    state=self.title,
                    key=self.key,
                    field=name,
                    stored=found.stored,
                    reason=found.reason,
                    action=action,
                )

    @contextmanager
    def _locks(self, names: Sequence[str], timeout: float) -> Iterator[None]:
        taken = []
        # The whole write, the store's own waits included, is bounded by ``timeout``.
        deadline = WRITE_DEADLINE.set(WRITE_DEADLINE.get() or time.monotonic() + timeout)
        try:
            for name in sorted(set(names)):
                lock = self.backend.lock(self.namespace, name)
                if not lock.acquire(timeout):
                    raise LockTimeoutError(self.title, names, timeout)
                taken.append(lock)
            yield
        finally:
            WRITE_DEADLINE.reset(deadline)
            failure: BaseException | None = None
            for lock in reversed(taken):
                try:
                    lock.release()
                except BaseException as exc:
                    failure = failure or exc
            if failure is not None:
                raise failure

    # -- writes ----------------------------------------------------------------------

    def assign(
        self,
        cls: type[SharedState],
        updates: Mapping[str, Any],
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        if_versions: Mapping[str, int] | None = None,
    ) -> None:
        """Validate and store ``updates`` under their locks; push the changes.

        Nothing is stored unless every value validates.  Values are stored
        frozen (read-only).  A value that is the very object already stored
        counts as a change when it has no read-only form (it may have been
        changed in place: a DataFrame, say).
        """
        cls = self.cls  # the newest definition, whoever writes (an old instance too)
        expect = dict(if_versions) if if_versions else {}
        names = [*updates, *expect] if expect else list(updates)
        self.check_fields(cls, names)
        with self.locked(self.write_locks(cls, names), timeout):
            self._refuse_if_dropped()
            values = self.values
            unreadable = [n for n in updates if self.backend.unreadable(self.namespace, n)]
            if unreadable or expect:
                # A conditional write, or one under lock(), is built on what was read.
                held = _held_by_lock()
                self.refuse_unreadable(
                    [n for n in names if n in expect or (self.namespace, n) in held],
                    "the write to",
                )
            if expect:
                # Under the locks (which, under Redis, re-read the fields): a
                # stale condition fails even when the write would change nothing.
                found = {name: self.backend.version(self.namespace, name) for name in expect}
                stale = {n: (expect[n], found[n]) for n in expect if found[n] != expect[n]}
                if stale:
                    raise StaleWriteError(self.title, stale)
            codec = codec_for(cls)
            try:
                validated = _validated(cls, values, updates)
                changed = {}
                before = {}
                for name, new in validated.items():
                    old = values.get(name)
                    # An unreadable stored value differs from whatever is written over it
                    # (the default shown in its place included).
                    if (
                        name in unreadable
                        or reassigned_in_place(updates[name], old)
                        or differs(old, new)
                    ):
                        changed[name] = codec.freeze(name, new)
                        before[name] = old
            except RecursionError:
                # Nested deeper than Python recurses: no store could read it back.
                raise too_deep(self.title, ", ".join(updates), "Python's recursion limit") from None
            if not changed:
                return
            try:
                created = self.backend.save(
                    self.namespace, changed, codec, Write(no_rerun.active, expect or None)
                )
            except StaleVersions as exc:
                raise StaleWriteError(
                    self.title, {n: (expect[n], v) for n, v in exc.found.items()}
                ) from None
            if self.stash:
                for name in changed:
                    self.stash.pop(name, None)
        self._push(before, created)

    def edit(
        self,
        cls: type[SharedState],
        name: str,
        operation: str,
        args: tuple[Any, ...],
        timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        """An item operation (``append``, ``set_item``, ``del_item``) on one field.

        Validates only the new items where the field allows it (see
        ``typed_state._items``), else the whole new value, as an assignment.
        """
        cls = self.cls
        self.check_fields(cls, (name,))
        plan = _items.plan_for(cls, name, operation)
        with self.locked(self.write_locks(cls, (name,)), timeout):
            self._refuse_if_dropped()
            self.refuse_unreadable((name,), f"{operation}() on")
            old = self.values[name]
            if not plan.direct:
                new = _items.edited_plainly(plan, self.title, name, old, operation, args)
                self.assign(cls, {name: new}, timeout)
                return
            origin = codec_for(cls).origin(name)
            edit: _items.Edit | None
            if operation == "append":
                items, keep_last = args
                items = _revalidate_models(list(items))
                edit = _items.append(plan, self.title, name, old, items, keep_last, origin)
            elif operation == "set_item":
                key, item = args
                item = _revalidate_models(item)
                edit = _items.set_item(plan, self.title, name, old, key, item, origin)
            else:
                (key,) = args
                edit = _items.del_item(plan, self.title, name, old, key, origin)
            if edit is None:
                return
            before = {name: old}
            codec = codec_for(cls)
            if edit.appended is not None:
                change = Append(name, edit.appended, edit.value, edit.keep_last, no_rerun.active)
                created = self.backend.append(self.namespace, change, codec)
            else:
                created = self.backend.save(
                    self.namespace, {name: edit.value}, codec, Write(no_rerun.active)
                )
            self.stash.pop(name, None)
        self._push(before, created)

    def _refuse_if_dropped(self) -> None:
        if self.dropped:
            again = "get()" if self.key is None else f"get(key={self.key!r})"
            raise StateDroppedError(
                f"{self.title} was dropped; call {self.cls.__name__}.{again} again",
                state=self.cls.__name__,
                key=self.key,
            )

    def _push(self, before: dict[str, Any], created: bool) -> None:
        """Re-run the readers of fields just stored (and a lobby, for a new member);
        ``before``: their values before the write, for the write log."""
        run = _streamlit.current_run()
        title = self.title
        for name, old in before.items():
            self.last_writes[name] = _journal.record(
                title, self.namespace, name, run, old, self.values.get(name)
            )
        if not no_rerun.active:
            engine().changed([self.field_keys[n] for n in before], run)
        if created and self.family is not None:
            self.family.created(run)

    def _changed_elsewhere(self, names: list[str], dropped: bool) -> None:
        """Another process wrote these fields, or deleted the state: re-run this
        process's readers."""
        if dropped:
            self.deleted_elsewhere()
            return
        keys = [self.field_keys[name] for name in names if name in self.field_keys]
        if keys:
            title = self.title
            for _, name in keys:
                self.last_writes[name] = _journal.record_elsewhere(
                    title, self.namespace, name, self.values.get(name)
                )
            engine().changed(keys, None)

    def deleted_elsewhere(self) -> None:
        """The stored values were deleted by expiry or another process: this slot is done."""
        self.dropped = True
        engine().changed(list(self.field_keys.values()), None)

    def notify(self, cls: type[BaseModel], names: Sequence[str]) -> None:
        """Re-run the sessions bound to ``names`` (not the caller's own)."""
        self.check_fields(cls, names)
        engine().changed(
            [self.field_keys[n] for n in names], _streamlit.current_run(), catch_up=False
        )
        self.backend.announce(self.namespace, list(names))

    def drop(self) -> bool:
        """Delete the stored values; False if nothing was stored.

        Every reader re-runs, the dropping session too (a page that keeps the
        instance in a widget's callback arguments gets the fresh member), and
        starts from the defaults.
        """
        with self.locked(list(self.values)):
            self.dropped = True
            deleted = self.backend.delete(self.namespace)
        engine().changed(list(self.field_keys.values()), None)
        return deleted


# -- helpers ---------------------------------------------------------------------------


def _defaults(cls: type[BaseModel], codec: FieldCodec) -> dict[str, Any]:
    """Fresh default values of every field (factories called anew), frozen."""
    return {name: codec.freeze(name, v) for name, v in cls.model_construct().__dict__.items()}


def _new_instance(cls: type[SharedState], slot: Slot) -> SharedState:
    """An instance of ``cls`` whose values are the slot's live values."""
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", slot.values)
    object.__setattr__(instance, "__pydantic_fields_set__", set())
    object.__setattr__(instance, "__pydantic_extra__", None)
    private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
    object.__setattr__(instance, "__pydantic_private__", private or None)
    object.__setattr__(instance, "_ts_slot", slot)
    return instance


def _validated(
    cls: type[BaseModel], values: Mapping[str, Any], updates: Mapping[str, Any]
) -> dict[str, Any]:
    """``updates`` validated as ``cls`` would on assignment (all together where several)."""
    checked = {
        name: value if type(value) in ATOMIC else _revalidate_models(value)
        for name, value in updates.items()
    }
    if len(checked) == 1:
        ((name, value),) = checked.items()
        shadow = cls.model_construct(**values)
        return {name: _validate_one(cls, shadow, name, value)}
    return _validate_many(cls, values, checked)


def _validate_one(cls: type[BaseModel], shadow: BaseModel, name: str, value: Any) -> Any:
    """Validate one field's value as ``cls`` would on assignment."""
    accepting_earlier_models(
        lambda v: cls.__pydantic_validator__.validate_assignment(shadow, name, v), value
    )
    return shadow.__dict__[name]


def _validate_many(
    cls: type[BaseModel], values: Mapping[str, Any], updates: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate several fields together (model validators see them all)."""
    merged = {**values, **updates}
    with validating():
        result = accepting_earlier_models(cls.model_validate, merged)
    return {name: result.__dict__[name] for name in updates}


def _revalidate_models(value: Any) -> Any:
    """``value`` with every model instance in it validated again by its own class.

    Pydantic accepts a model instance as it is, so an instance edited after it
    was built (``draft[0].text = "far too long"`` in a ``mutate()`` block, or on
    a ``model_copy()``) would be stored unchecked.  Frozen instances came out
    of a validated write and cannot have changed: they are kept, so re-assigning
    a big list with one new item re-checks only that item.
    """
    return map_models(value, _revalidated, skip_frozen=True)


def _revalidated(model: BaseModel) -> BaseModel:
    fields = {k: _revalidate_models(v) for k, v in model.__dict__.items()}
    if model.__pydantic_extra__:
        fields.update(model.__pydantic_extra__)
    with validating():
        fresh = type(model).model_validate(fields, by_name=True)
    object.__setattr__(fresh, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    if model.__pydantic_private__:
        object.__setattr__(fresh, "__pydantic_private__", dict(model.__pydantic_private__))
    return fresh


def _title(cls: type[BaseModel], key: str | None) -> str:
    return cls.__name__ if key is None else f"{cls.__name__}[{key!r}]"


def _reason(exc: ValidationError) -> str:
    """The first error of ``exc``, with where inside the field it is: ``0.prio: Field required``."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"][1:])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _serial(cls: type[BaseModel]) -> int:
    """Order of definition: a class defined later (an edit of the page) is newer."""
    serial: int = cls.__dict__.get("__typed_state_serial__", 0)
    return serial


def _fingerprint(cls: type[BaseModel]) -> str:
    """What identifies a schema across re-definitions of a class."""
    cached: str | None = cls.__dict__.get("__typed_state_fingerprint__")
    if cached is not None:
        return cached
    try:
        fingerprint = json.dumps(cls.model_json_schema(), sort_keys=True)
    except Exception:  # types without a JSON schema (numpy arrays, say)
        fingerprint = repr(
            [
                (name, repr(f.annotation), repr(f.default), repr(f.metadata))
                for name, f in cls.model_fields.items()
            ]
        )
    type.__setattr__(cls, "__typed_state_fingerprint__", fingerprint)
    return fingerprint
