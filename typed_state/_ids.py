"""Which state instance a name means: the one place that writes and reads those names.

A state instance is a class (its module and qualified name, which hold no ``[``)
and, for a member of a family (``Room.get(key="r1")``), a key.  Stores, the
engine, presence and the inspector name it by its namespace, the string
``mod.Room`` or ``mod.Room[r1]``; only this module builds or takes one apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StateId:
    """One state instance: its class's name and, for a member of a family, its key."""

    name: str
    key: str | None = None

    @property
    def namespace(self) -> str:
        """The instance's name in stores and messages (``mod.Room[r1]``)."""
        return self.name if self.key is None else f"{self.name}[{self.key}]"

    @property
    def title(self) -> str:
        """How messages name the instance: its class's name, and key (``Room['r1']``)."""
        short = self.name.rpartition(".")[2]
        return short if self.key is None else f"{short}[{self.key!r}]"

    @classmethod
    def of(cls, namespace: str) -> StateId:
        """The instance a namespace names."""
        name, bracket, rest = namespace.partition("[")
        return cls(name, rest[:-1]) if bracket else cls(name)


def family_of(namespace: str) -> str | None:
    """The family a member's namespace belongs to (``mod.Room`` for ``mod.Room[r1]``);
    None for a state that is no member."""
    name, bracket, _ = namespace.partition("[")
    return name if bracket else None


def members_prefix(family: str) -> str:
    """What the namespaces of ``family``'s members, and only theirs, start with."""
    return family + "["


def key_of(namespace: str) -> str | None:
    """The member key a namespace names (None for a state that is no member)."""
    return StateId.of(namespace).key
