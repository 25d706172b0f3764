"""The in-memory store: the default, nothing to install, one process."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from typed_state._backends._base import Backend, FieldLock, StaleVersions
from typed_state._once import get_or_create

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_state._backends._codec import FieldCodec


class _Lock:
    """A ``threading.RLock`` behind the :class:`FieldLock` interface."""

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
        self._data: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, dict[str, int]] = {}
        self._locks: dict[tuple[str, str], _Lock] = {}
        self._mutex = threading.Lock()

    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        return self._data.get(namespace)

    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        with self._mutex:
            live = self._data.setdefault(namespace, {})
            for name, value in values.items():
                live.setdefault(name, value)
            return live

    def save(
        self,
        namespace: str,
        values: Mapping[str, Any],
        codec: FieldCodec,
        *,
        quiet: bool = False,
        expect: Mapping[str, int] | None = None,
    ) -> None:
        versions = self._versions.setdefault(namespace, {})
        if expect:
            # The caller holds the locks of the fields expected: no write can come between.
            found = {name: versions.get(name, 0) for name in expect}
            if found != dict(expect):
                raise StaleVersions(found)
        self._data[namespace].update(values)
        for name in values:
            versions[name] = versions.get(name, 0) + 1

    def version(self, namespace: str, name: str) -> int:
        return self._versions.get(namespace, {}).get(name, 0)

    def replace(self, namespace: str, values: Mapping[str, Any], codec: FieldCodec) -> None:
        live = self._data[namespace]
        # Keep the same dict: instances of the previous class read from it too.
        for name in [n for n in live if n not in values]:
            del live[name]
        live.update(values)

    def lock(self, namespace: str, field: str) -> FieldLock:
        return get_or_create(self._locks, (namespace, field), self._mutex, _Lock)

    def namespaces(self, prefix: str) -> list[str]:
        return sorted(ns for ns in list(self._data) if ns.startswith(prefix))

    def delete(self, namespace: str) -> bool:
        with self._mutex:
            self._versions.pop(namespace, None)
            return self._data.pop(namespace, None) is not None
