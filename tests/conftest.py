from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from typed_state import testing

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """Every test starts with no states, subscriptions or cached settings."""
    testing.reset()
    yield
    testing.reset()
