"""Waiting in tests: for a condition, polled, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Return as soon as ``predicate()`` is true; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """``wait_until`` for a condition that takes a round trip to look at (a page
    re-run, a query): looked at again every 50 ms."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)
