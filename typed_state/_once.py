"""Get-or-create under a lock, the one way typed_state builds shared objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, MutableMapping

K = TypeVar("K")
V = TypeVar("V")


def get_or_create(
    table: MutableMapping[K, V], key: K, lock: threading.Lock, create: Callable[[], V]
) -> V:
    """``table[key]``, made by ``create()`` the first time, once whatever the threads.

    The common case, the object made already, reads the table without the lock.
    """
    value = table.get(key)
    if value is None:
        with lock:
            value = table.get(key)
            if value is None:
                value = table[key] = create()
    return value
