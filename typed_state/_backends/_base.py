"""The interface every store implements.

A backend keeps, per namespace (one state instance: class and key), the values
of its fields, and gives a lock per field.  Values cross this interface as the
Python objects the model validated; a backend that leaves the process encodes
them itself.  Backends know nothing of Streamlit or of re-runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping


class FieldLock(Protocol):
    """A re-entrant lock on one field of one state instance."""

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; False if not taken."""
        ...

    def release(self) -> None:
        """Release the lock once (it is re-entrant)."""
        ...


class Backend(ABC):
    """Storage for the values of shared states."""

    @abstractmethod
    def load(self, namespace: str) -> dict[str, Any] | None:
        """The live values of ``namespace``, None if it was never stored.

        The returned dict is the backend's own: the model reads from it on
        every field read and must not change it except through :meth:`save`.
        """

    @abstractmethod
    def create(self, namespace: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``values`` unless ``namespace`` exists; return the live values."""

    @abstractmethod
    def save(self, namespace: str, values: Mapping[str, Any]) -> None:
        """Store these fields of ``namespace`` (the caller holds their locks)."""

    @abstractmethod
    def replace(self, namespace: str, values: Mapping[str, Any]) -> None:
        """Make ``values`` the whole content of ``namespace`` (schema changes)."""

    @abstractmethod
    def lock(self, namespace: str, field: str) -> FieldLock:
        """The lock of one field; the same lock for the same field every time."""

    @abstractmethod
    def namespaces(self, prefix: str) -> list[str]:
        """The stored namespaces that start with ``prefix``."""

    @abstractmethod
    def delete(self, namespace: str) -> bool:
        """Remove a namespace; False if it did not exist."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (connections, threads)."""
