"""``Version``: a field's version, an ``int`` that knows its field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Version(int):
    """How many changes of one field were stored, as ``SharedState.version`` gives it.

    An ``int`` (compare it, show it, store it), which also knows its ``field``, so that a
    conditional write needs no field name typed again:

    ```python
    seen = doc.version(lambda d: d.text)      # when the user started editing
    doc.update(text=draft, if_versions=seen)  # StaleWriteError if it moved on
    with doc.batch(if_versions=[seen, doc.version(lambda d: d.title)]) as new:
        new.text = draft
    ```
    """

    field: str
    """The field (its name) this is a version of."""

    def __new__(cls, value: int, field: str) -> Version:
        version = super().__new__(cls, value)
        version.field = field
        return version

    def __repr__(self) -> str:
        return f"Version({int(self)}, field={self.field!r})"

    def __str__(self) -> str:  # f"{version}", st.write: the number
        return int.__repr__(self)

    def __reduce__(self) -> tuple[type[Version], tuple[int, str]]:
        return (Version, (int(self), self.field))


def expected(if_versions: Mapping[str, int] | Version | Iterable[Version] | None) -> dict[str, int]:
    """``if_versions`` in any of its forms, as field -> version."""
    if if_versions is None:
        return {}
    if isinstance(if_versions, Version):
        return {if_versions.field: int(if_versions)}
    if isinstance(if_versions, Mapping):
        return {str(name): int(version) for name, version in if_versions.items()}
    found: dict[str, int] = {}
    for version in if_versions:
        if not isinstance(version, Version):
            raise TypeError(
                "if_versions is a mapping of field -> version, a Version, or Versions "
                f"(from state.version(...)); not {version!r} in a list"
            )
        found[version.field] = int(version)
    return found
