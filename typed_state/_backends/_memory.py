"""The in-memory store: the default, nothing to install, one process."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from typed_state import _clock
from typed_state._backends._base import PLAIN, Backend, Expiry, FieldLock, StaleVersions, Write
from typed_state._ids import family_of
from typed_state._once import get_or_create

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typed_state._backends._codec import FieldCodec


class _Lock:
    """A ``threading.RLock`` behind the ``FieldLock`` interface."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def acquire(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()


class MemoryBackend(Backend):
    """Values kept as Python objects in this process."""

    def __init__(self) -> None:
        self._live: dict[str, dict[str, Any]] = {}
        """Every namespace in use, stored or not: the dicts instances read from."""
        self._stored: set[str] = set()
        self._versions: dict[str, dict[str, int]] = {}
        self._used: dict[str, dict[str, float]] = {}
        """Per family, each stored member's last use."""
        self._locks: dict[tuple[str, str], _Lock] = {}
        self._mutex = threading.Lock()

    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        return self._live.get(namespace) if namespace in self._stored else None

    def attach(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        with self._mutex:
            live = self._live.get(namespace)
            if live is None:
                live = self._live[namespace] = dict(values)
            return live

    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        with self._mutex:
            live = self._live.setdefault(namespace, {})
            for name, value in values.items():
                live.setdefault(name, value)
            self._stored.add(namespace)
            return live

    def save(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec, how: Write = PLAIN
    ) -> bool:
        versions = self._versions.setdefault(namespace, {})
        if how.expect:
            # The caller holds the locks of the fields expected: no write can come between.
            found = {name: versions.get(name, 0) for name in how.expect}
            if found != dict(how.expect):
                raise StaleVersions(found)
        with self._mutex:
            created = namespace not in self._stored
            self._stored.add(namespace)
            self._live[namespace].update(values)
            family = family_of(namespace)
            if family is not None:
                self._used.setdefault(family, {})[namespace] = _clock.now()
        for name in values:
            versions[name] = versions.get(name, 0) + 1
        return created

    def version(self, namespace: str, name: str) -> int:
        return self._versions.get(namespace, {}).get(name, 0)

    def replace(self, namespace: str, values: Mapping[str, Any], codec: FieldCodec) -> None:
        live = self._live[namespace]
        # Keep the same dict: instances of the previous class read from it too.
        for name in [n for n in live if n not in values]:
            del live[name]
        live.update(values)

    def lock(self, namespace: str, field: str) -> FieldLock:
        return get_or_create(self._locks, (namespace, field), self._mutex, _Lock)

    def members(self, family: str) -> list[str]:
        return sorted(ns for ns in list(self._stored) if family_of(ns) == family)

    def detach(self, namespace: str) -> bool:
        with self._mutex:
            if namespace in self._stored:
                return False
            self._live.pop(namespace, None)
            self._versions.pop(namespace, None)
            for key in [k for k in self._locks if k[0] == namespace]:
                del self._locks[key]
            return True

    def delete(self, namespace: str) -> bool:
        with self._mutex:
            self._live.pop(namespace, None)
            self._versions.pop(namespace, None)
            family = family_of(namespace)
            if family is not None:
                self._used.get(family, {}).pop(namespace, None)
            if namespace not in self._stored:
                return False
            self._stored.discard(namespace)
            return True

    def mark_used(self, namespace: str, when: float) -> None:
        family = family_of(namespace)
        with self._mutex:
            if family is not None and namespace in self._stored:
                used = self._used.setdefault(family, {})
                used[namespace] = max(when, used.get(namespace, when))

    def watch_members(self, family: str, callback: Callable[[], None]) -> None:
        """Members are made and deleted in this process only: its own calls say so."""

    def expire(self, family: str, rule: Expiry) -> list[str]:
        with self._mutex:
            used = dict(self._used.get(family, {}))
        return [namespace for namespace in rule.doomed(used) if self.delete(namespace)]
