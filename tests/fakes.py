"""A stand-in for Streamlit's session layer, for engine tests without a server."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from typed_state._streamlit import Run

if TYPE_CHECKING:
    from collections.abc import Callable

_markers = itertools.count()


class Marker:
    """A run marker (Streamlit's is a dict replaced at each run)."""

    def __init__(self) -> None:
        self.n = next(_markers)

    def __repr__(self) -> str:
        return f"Marker({self.n})"


@dataclass
class FakeSession:
    session_id: str
    settled: bool = True
    page: str = ""
    run_page: str | None = None
    """The page its runs run, where it differs from ``page`` (the one Streamlit holds,
    which it updates only once a run has started)."""
    fragments: set[str] = field(default_factory=set)
    reruns: list[str | None] = field(default_factory=list)
    marker: Marker = field(default_factory=Marker)

    def has_fragment(self, fragment_id: str) -> bool:
        return fragment_id in self.fragments

    def rerun(self, fragment_id: str | None) -> None:
        self.reruns.append(fragment_id)

    def run(
        self,
        *,
        fragment: str | None = None,
        fragment_only: bool = False,
        new: bool = True,
        callback: bool = False,
    ) -> Run:
        """The Run of a new script run (or of the current one with new=False)."""
        if new:
            self.marker = Marker()
        page = self.page if self.run_page is None else self.run_page
        return Run(self.session_id, self.marker, fragment, fragment_only, callback, page)


class FakeSessions:
    """Implements the part of ``_streamlit.Sessions`` the engine uses."""

    def __init__(self) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.scheduled: list[tuple[float, Callable[[], None]]] = []
        self.handoff_waits: list[float] = []
        self.now = 1000.0
        """The engine's clock (``clock=sessions.clock``): moved by the tests, never by sleeps."""

    def clock(self) -> float:
        return self.now

    def add(self, session_id: str) -> FakeSession:
        session = self.sessions[session_id] = FakeSession(session_id)
        return session

    def get(self, session_id: str) -> FakeSession | None:
        return self.sessions.get(session_id)

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool:
        self.scheduled.append((delay, callback))
        return True

    def run_soon(self, callback: Callable[[], None], *, wait: float) -> bool:
        """Scheduled like call_later(0): the tests run it with pump()."""
        self.handoff_waits.append(wait)
        return self.call_later(0, callback)

    def pump(self, rounds: int = 5) -> list[float]:
        """Run what is scheduled (and what that schedules), return the delays seen."""
        delays = []
        for _ in range(rounds):
            batch, self.scheduled = self.scheduled, []
            if not batch:
                break
            for delay, callback in batch:
                delays.append(delay)
                callback()
        return delays
