"""Subscriptions and re-run scheduling.

A session is bound to the fields it read in its latest run (and a fragment to
the fields it read in its latest run of that fragment).  A write bumps the
field's version and marks every bound session dirty, the writer's own too;
each dirty session is flushed on the server's event loop, at most once per
``min_interval``, and only when it is settled (no run running or queued), so a
burst of writes can never starve a session of finished runs or replace a
request of its browser.  At flush time a session (or a fragment of it) is
re-run only if a field it read has a newer version than the one it read: a
run that started after the write already shows it.

So the writer gets a catch-up run exactly where its page drew the old value
(a button below the display; a fragment's callback while the page body shows
the field), and none after a callback of a full run, whose body reads after
the write.  A catch-up run's own writes never schedule another catch-up: a
page that writes on every run makes at most two runs per user action.  Two
sessions whose pushed runs keep writing the same field re-run each other for
ever; that is detected and logged once per field (see ``_ECHO_ROUNDS``).

The engine knows nothing of models or backends: what a run reads is a topic, a
field (a ``(namespace, name)`` key), a family's list of members or a presence.
It talks to Streamlit only through ``typed_state._streamlit``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from typed_state import _streamlit
from typed_state._config import settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from typed_state._streamlit import Run

_LOGGER = logging.getLogger("typed_state")

FieldKey = tuple[str, str]
"""A field of one state instance: (namespace, field name)."""


@dataclass(frozen=True, slots=True)
class Members:
    """The list of a family's members (``keys()``): changes when one is made or deleted."""

    family: str


@dataclass(frozen=True, slots=True)
class Presence:
    """Who is present on a state (``presence()``), or, ``by_key``, on each member of a
    family (``presence_by_key()``)."""

    namespace: str
    by_key: bool = False


Topic = FieldKey | Members | Presence
"""What a run can read, and so be re-run for when it changes."""

_T = TypeVar("_T", bound="Members | Presence")

_POLL_BUSY = 0.01
"""How often a dirty session that is still running is checked again (s)."""

_POLL_WAVE = 0.005
"""How often the runs in flight are checked for having settled while pushes wait (s)."""

_SWEEP_EVERY = 60.0
"""How often sessions that were never flushed are checked for having closed (s)."""

_HANDOFF = 0.05
"""How long a writing thread waits (at most, in s) for its pushes to be sent.

Streamlit ends every script run with ``gc.collect(2)`` (``runner.postScriptGC``),
which holds the GIL for tens of milliseconds.  A push merely scheduled on the
event loop waits behind the writer's own end-of-run collection; handing the GIL
to the loop until the push is out lets the readers start at once."""

_WAVE = 16
"""Pushed runs in flight at once, at most.

Streamlit ends every script run with a full collection, which walks every object
alive and not frozen: the temporaries of every other run in flight too.  200 runs
started at once each paid 3.1 ms of collection; in waves of 16, started as earlier
runs settle, 1.1 ms, and the last of 200 readers showed a write after 663 ms instead
of 995 (A/B in one run, 6 writes each; waves of 4: 887 ms, 8: 741, 32: 704 against
690 for 16).  At 50 readers: 135 against 142 ms."""

_WAVE_PATIENCE = 0.05
"""A run in flight longer than this (s) stops holding the next wave back: a page that
waits on the network must not make the others wait on it (200 such runs all start
within 13 x 50 ms)."""

_ECHO_ROUNDS = 20
"""Writes of one field in a row, each made by a run that a push started, after
which sessions are taken to be re-running each other for ever (and it is logged)."""


class SessionView(Protocol):
    """One live session, as the engine drives it (``_streamlit.SessionView``)."""

    @property
    def settled(self) -> bool: ...

    @property
    def page(self) -> str:
        """The page the browser last asked for (its script hash, or "" for the default)."""
        ...

    def has_fragment(self, fragment_id: str) -> bool: ...

    def rerun(self, fragment_id: str | None) -> None: ...


class Sessions(Protocol):
    """The live sessions of the server, as the engine uses them (``_streamlit.Sessions``)."""

    def get(self, session_id: str) -> SessionView | None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool: ...

    def run_soon(self, callback: Callable[[], None], *, wait: float) -> bool: ...


@dataclass(slots=True)
class _Subscriptions:
    """What one session read, and where it stands in re-run scheduling."""

    marker: object = None
    """Run marker of the latest full run that touched a state."""
    last_marker: object = None
    """Run marker of the latest run (full or fragment) that touched a state."""
    main: dict[Topic, int] = field(default_factory=dict)
    """Topics read outside fragments in the latest full run -> version read."""
    fragments: dict[str, dict[Topic, int]] = field(default_factory=dict)
    fragment_markers: dict[str, object] = field(default_factory=dict)
    pushed_marker: object = None
    """``last_marker`` when we last pushed a full run; unchanged at the next
    flush means the pushed run read no state at all."""
    pushed_fragments: dict[str, object] = field(default_factory=dict)
    dirty: bool = False
    last_push: float = float("-inf")
    self_written: bool = False
    """Dirty (also) because of its own write: a push now is a catch-up run."""
    push_pending: bool = False
    catchup_pending: bool = False
    """A push (a catch-up) was sent; the next new run is it."""
    seen_marker: object = None
    pushed_run: object = None
    """Marker of the run a push started (or None): its writes may be echoes."""
    catchup_run: object = None
    """Marker of the run a catch-up push started: its writes catch nobody up."""
    used: set[str] = field(default_factory=set)
    """Namespaces the latest full run (and its fragment runs since) used: ``get()`` or a
    field read.  Presence counts the session on them."""
    was_used: set[str] = field(default_factory=set)
    """``used`` of the run before, still counted until the new run is seen to have
    ended (so a count never dips while a page re-runs)."""
    page: str | None = None
    """The page the latest full run ran (None: the main script, part of every page).
    Once Streamlit holds another page for the session than this one or ``asked``, it
    has left (that page's runs may use no state)."""
    asked: str | None = None
    """The page Streamlit held for the session when that run first used a state: on a
    first load under ``st.navigation`` "", until Streamlit has started the run."""


@dataclass(frozen=True, slots=True)
class RerunRecord:
    """A re-run the engine asked for (or, under AppTest, would have asked for)."""

    session_id: str
    fragment_id: str | None
    """None for a full run of the page."""


class Engine:
    """The process-wide subscription table and re-run scheduler.

    ``sessions`` gives the server's live sessions (None without a server, as
    under AppTest) and ``clock`` the time in seconds: seams for tests.
    """

    def __init__(
        self,
        min_interval: float = 0.1,
        *,
        sessions: Callable[[], Sessions | None] = _streamlit.sessions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = min_interval
        self._get_sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        """The start gate: held while a batch of pushes goes out (see ``_flush_all``)."""
        self._titles: dict[str, str] = {}
        self._echoes: dict[FieldKey, int] = {}
        self._echo_warned: set[FieldKey] = set()
        self._versions: dict[Topic, int] = {}
        self._readers: dict[Topic, set[str]] = {}
        self._sessions: dict[str, _Subscriptions] = {}
        self._recorded: list[RerunRecord] = []
        self._waiting: deque[str] = deque()
        """Sessions due for a push that wait for a place in the wave (on the loop)."""
        self._in_flight: list[tuple[SessionView, float]] = []
        """Pushed sessions not yet settled, with when their push went out (on the loop)."""
        self._pumping = False
        self._next_sweep = clock() + _SWEEP_EVERY
        self.reruns_requested = 0
        """Re-runs pushed to sessions since start (for tests and benchmarks)."""

    # -- reads (hot path: every field read of every script run) ---------------

    def touch(self, run: Run, namespace: str) -> None:
        """Note that ``run`` uses the state stored under ``namespace`` (a ``get()``)."""
        if run.in_callback:
            return
        subs = self._sessions.get(run.session_id)
        if subs is not None and subs.last_marker is run.marker:
            if namespace in subs.used:
                return
        else:
            self._pass_gate()
        with self._lock:
            self._enter(run).used.add(namespace)

    def _pass_gate(self) -> None:
        """Wait, at a run's first state use, while a batch of pushes goes out."""
        if self._starting.locked():
            with self._starting:
                pass

    def pushed(self, run: Run) -> bool:
        """Whether the engine started ``run`` (a push, or a writer's catch-up run)."""
        subs = self._sessions.get(run.session_id)
        if subs is None:
            return False
        with self._lock:
            self._note_run(subs, run.marker)
            return subs.pushed_run is run.marker

    def use(self, run: Run, namespace: str) -> None:
        """Note that ``run`` uses the state stored under ``namespace``, even from a
        callback (``present_as``)."""
        with self._lock:
            self._enter(run).used.add(namespace)

    def bind(self, run: Run, key: Topic) -> None:
        """Bind the session (or fragment) of ``run`` to ``key`` for this run."""
        if run.in_callback:
            # A callback runs before the script body of the same run, which
            # reads what it shows; a read here shows nothing.
            return
        # Fast path, without the lock: this run already holds this binding at the
        # current version (the common case: a field read again and again).  A
        # write racing with the check only makes the binding look stale later,
        # which re-runs the session: never a missed update.
        subs = self._sessions.get(run.session_id)
        if subs is not None and subs.last_marker is run.marker:
            fid = run.fragment_id
            target = subs.main if fid is None else subs.fragments.get(fid)
            if target is not None and target.get(key, -1) == self._versions.get(key, 0):
                return
        else:
            self._pass_gate()
        with self._lock:
            subs = self._enter(run)
            fid = run.fragment_id
            target = subs.main if fid is None else subs.fragments[fid]
            # The first read of the run counts: what it showed may be older than
            # what a later read of the same run sees.
            target.setdefault(key, self._versions.get(key, 0))
            if type(key) is tuple:  # a field: presence counts the session on its state
                subs.used.add(key[0])
            readers = self._readers.get(key)
            if readers is None:
                self._readers[key] = {run.session_id}
            else:
                readers.add(run.session_id)

    def _enter(self, run: Run) -> _Subscriptions:
        """The session's subscriptions, reset where ``run`` starts a new run."""
        subs = self._sessions.get(run.session_id)
        if subs is None:
            subs = self._sessions[run.session_id] = _Subscriptions()
        marker = run.marker
        if subs.last_marker is marker and (
            run.fragment_id is None or run.fragment_id in subs.fragments
        ):
            return subs
        self._note_run(subs, marker)
        subs.last_marker = marker
        if not run.fragment_only and subs.marker is not marker:
            # A full run re-runs every fragment too: all of it is read afresh.
            subs.marker = marker
            subs.main.clear()
            subs.fragments.clear()
            subs.fragment_markers.clear()
            subs.was_used |= subs.used
            subs.used = set()
            subs.page = run.page
            sessions = self._get_sessions()
            view = None if sessions is None else sessions.get(run.session_id)
            subs.asked = None if view is None else view.page
        fid = run.fragment_id
        if fid is not None and subs.fragment_markers.get(fid) is not marker:
            subs.fragment_markers[fid] = marker
            subs.fragments[fid] = {}
        return subs

    # -- writes -----------------------------------------------------------------

    def forget_namespace(self, namespace: str) -> None:
        """Drop what the engine keeps for a state this process no longer holds."""
        self._titles.pop(namespace, None)

    def name(self, namespace: str, title: str) -> None:
        """How messages name the state stored under ``namespace`` (``Chat['r1']``)."""
        self._titles[namespace] = title

    def changed(self, keys: Iterable[Topic], writer: Run | None, *, catch_up: bool = True) -> None:
        """Fields (or other topics) changed: re-run (soon) every session bound to them.

        ``writer`` is the script run that wrote (None for a thread of the app's
        own, or another process).  Its session is re-run too where its page
        drew the old value (a catch-up run), unless ``catch_up`` is False or
        the write comes from a catch-up run itself.
        """
        dirty: list[str] = []
        sessions: Sessions | None = None
        with self._lock:
            writer_id = None if writer is None else writer.session_id
            catching_up = False
            echo: bool | None = None  # unknown: a thread of the app, or another process
            if writer is not None:
                subs = self._sessions.get(writer.session_id)
                if subs is not None:
                    self._note_run(subs, writer.marker)
                    echo = subs.pushed_run is writer.marker
                    catching_up = catch_up and subs.catchup_run is not writer.marker
            for key in keys:
                self._versions[key] = self._versions.get(key, 0) + 1
                self._count_echo(key, echo)
                for session_id in self._readers.get(key, ()):
                    subs = self._sessions.get(session_id)
                    if subs is None:
                        continue
                    if session_id == writer_id:
                        if not catching_up:
                            continue
                        subs.self_written = True
                    if not subs.dirty:
                        subs.dirty = True
                        dirty.append(session_id)
        if not dirty:
            return
        if sessions is None:
            sessions = self._get_sessions()
        if sessions is None:
            # Under AppTest, or with no server: nobody to re-run; record it.  The
            # writer's own session is decided once its run has ended, as on a server
            # (a callback's write needs no catch-up: the body reads after it).
            with self._lock:
                for session_id in dirty:
                    if session_id != writer_id:
                        self._flush_locked(session_id, None)
            return
        now = self._clock()
        due: list[str] = []
        for session_id in dirty:
            subs = self._sessions.get(session_id)
            last = subs.last_push if subs is not None else float("-inf")
            delay = max(0.0, last + self.min_interval - now)
            if delay > 0:
                sessions.call_later(delay, functools.partial(self._flush, session_id))
            else:
                due.append(session_id)
        if due:
            # Only a script run ends with Streamlit's collection; a thread of
            # the app's own (writer None) has no reason to wait.
            wait = _HANDOFF if writer is not None else 0.0
            sessions.run_soon(functools.partial(self._flush_all, due), wait=wait)
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY
            sessions.call_later(0, self._sweep)

    def _note_run(self, subs: _Subscriptions, marker: object) -> None:
        """Classify a run the engine sees for the first time: pushed, catch-up, or neither."""
        if subs.seen_marker is marker:
            return
        subs.seen_marker = marker
        subs.pushed_run = marker if subs.push_pending else None
        subs.catchup_run = marker if subs.catchup_pending else None
        subs.push_pending = subs.catchup_pending = False

    def _count_echo(self, key: Topic, echo: bool | None) -> None:
        """Count writes of ``key`` in a row made by pushed runs; log a loop once.

        A write by a run nobody pushed (a user's action) ends the count; one of
        unknown origin (another process, whose sessions may be the other half
        of the loop) leaves it as it is.
        """
        if echo is None or type(key) is not tuple:
            return
        if not echo:
            self._echoes.pop(key, None)
            return
        rounds = self._echoes[key] = self._echoes.get(key, 0) + 1
        if rounds < _ECHO_ROUNDS or key in self._echo_warned:
            return
        self._echo_warned.add(key)
        namespace, name = key
        title = self._titles.get(namespace, namespace)
        _LOGGER.warning(
            "typed_state: %s.%s has been written %d times in a row by runs that a write to "
            "it pushed: sessions are re-running each other for ever. This happens when a "
            "page writes a new value on every run, e.g. a widget's own value written back "
            "(v = st.slider(..., value=state.%s, key=...); state.%s = v): each session "
            "writes what its widget holds. Bind the widget to the field instead, with "
            "st.slider(..., **state.widget(%r)), or write only in the widget's on_change "
            "callback.",
            title,
            name,
            rounds,
            name,
            name,
            name,
        )

    def forget(self, session_id: str) -> None:
        """Drop everything about a session that is gone."""
        with self._lock:
            self._forget_locked(session_id)

    def _forget_locked(self, session_id: str) -> None:
        subs = self._sessions.pop(session_id, None)
        if subs is None:
            return
        keys = set(subs.main)
        for reads in subs.fragments.values():
            keys.update(reads)
        for key in keys:
            readers = self._readers.get(key)
            if readers is not None:
                readers.discard(session_id)
                if not readers:
                    del self._readers[key]

    # -- flushing (on the server's event loop) --------------------------------------

    def _flush_all(self, session_ids: list[str]) -> None:
        """Flush every due session, in waves (on the event loop)."""
        self._waiting.extend(session_ids)
        if not self._pumping:
            self._pump()

    def _pump(self) -> None:
        """Start the pushes that have a place in the wave, with the start gate closed.

        Each push starts a script thread, which could run its whole page and
        Streamlit's end-of-run ``gc.collect(2)`` (tens of ms holding the GIL)
        before this thread gets the GIL back to start the next one: pushes
        one after the other, each run paying its own collection.  The gate
        holds each started run at its first state read until every push of the
        wave is out; the runs then end together, and CPython skips a
        ``gc.collect()`` called while another thread's collection is in progress.
        Measured at 50 readers: 0.87 full collections per run without the gate,
        0.75 with it (streamlit-server-state 0.76, whose runs wait on its lock).
        A wave is at most ``_WAVE`` runs: every collection walks the temporaries of
        every run in flight.
        """
        self._pumping = False
        sessions = self._get_sessions()
        if sessions is None:
            self._waiting.clear()
            return
        now = self._clock()
        self._in_flight = [
            (view, started)
            for view, started in self._in_flight
            if now - started < _WAVE_PATIENCE and not view.settled
        ]
        room = _WAVE - len(self._in_flight)
        if room > 0 and self._waiting:
            with self._starting:
                while room > 0 and self._waiting:
                    view = self._push_due(self._waiting.popleft(), sessions)
                    if view is not None:
                        self._in_flight.append((view, now))
                        room -= 1
        if self._waiting:
            self._pumping = sessions.call_later(_POLL_WAVE, self._pump)

    def _flush(self, session_id: str, sessions: Sessions | None = None) -> None:
        self._push_due(session_id, sessions)

    def _push_due(self, session_id: str, sessions: Sessions | None) -> SessionView | None:
        """Push what the session is due, unless it is busy; the session if it was pushed."""
        if sessions is None:
            sessions = self._get_sessions()
            if sessions is None:
                return None
        view = sessions.get(session_id)
        if view is None:
            self.forget(session_id)
            return None
        if not view.settled:
            # Never push into a running or queued run: that is what starves
            # sessions and drops a widget value the browser just sent.
            sessions.call_later(_POLL_BUSY, functools.partial(self._flush, session_id))
            return None
        with self._lock:
            pushes = self._flush_locked(session_id, view)
        # Outside the lock: Streamlit's request_rerun starts the session's script
        # thread, and this thread may lose the GIL to another run's end-of-run
        # collection meanwhile; holding the lock then would stall every script
        # thread's first field read behind it (measured: ~20 ms per push at N=1).
        for fragment_id in pushes:
            view.rerun(fragment_id)
        return view if pushes else None

    def _flush_locked(self, session_id: str, view: SessionView | None) -> list[str | None]:
        """Decide what of the session to re-run (None: the whole page, else fragment
        ids); without a view (no server) the re-runs are recorded instead."""
        pushes: list[str | None] = []
        subs = self._sessions.get(session_id)
        if subs is None:
            return pushes
        subs.dirty = False
        catch_up, subs.self_written = subs.self_written, False
        versions = self._versions
        if subs.pushed_marker is not None and subs.pushed_marker is subs.last_marker:
            # Our last push ran and read no state: the page no longer shows any.
            self._forget_locked(session_id)
            return pushes
        if any(versions.get(k, 0) != v for k, v in subs.main.items()):
            self._push(subs, session_id, view, None, catch_up, pushes)
            subs.pushed_marker = subs.last_marker
            subs.pushed_fragments.clear()
            return pushes
        for fid, reads in list(subs.fragments.items()):
            if not any(versions.get(k, 0) != v for k, v in reads.items()):
                continue
            marker = subs.fragment_markers.get(fid)
            stale_push = subs.pushed_fragments.get(fid)
            if (view is not None and not view.has_fragment(fid)) or (
                stale_push is not None and stale_push is marker
            ):
                # The fragment is gone, or its last pushed run read nothing.
                del subs.fragments[fid]
                subs.fragment_markers.pop(fid, None)
                subs.pushed_fragments.pop(fid, None)
                continue
            self._push(subs, session_id, view, fid, catch_up, pushes)
            subs.pushed_fragments[fid] = marker
        return pushes

    def _push(
        self,
        subs: _Subscriptions,
        session_id: str,
        view: SessionView | None,
        fragment_id: str | None,
        catch_up: bool,
        pushes: list[str | None],
    ) -> None:
        subs.last_push = self._clock()
        subs.push_pending = True
        subs.catchup_pending = catch_up
        self.reruns_requested += 1
        if view is None:
            self._recorded.append(RerunRecord(session_id, fragment_id))
        else:
            pushes.append(fragment_id)

    def _sweep(self) -> None:
        sessions = self._get_sessions()
        if sessions is None:
            return
        for session_id in list(self._sessions):
            if sessions.get(session_id) is None:
                self.forget(session_id)

    # -- introspection -------------------------------------------------------------

    def readers(self, key: Topic) -> set[str]:
        """Sessions currently bound to ``key`` (latest runs only)."""
        with self._lock:
            found: set[str] = set()
            for session_id in self._readers.get(key, ()):
                subs = self._sessions.get(session_id)
                if subs is None:
                    continue
                if key in subs.main or any(key in r for r in subs.fragments.values()):
                    found.add(session_id)
            return found

    def read_namespaces(self) -> set[str]:
        """The namespaces some live session's latest run read a field of.

        Sessions that closed are forgotten on the way.  Without a server (under
        AppTest) every session bound is taken to be live.
        """
        sessions = self._get_sessions()
        with self._lock:
            if sessions is not None:
                for session_id in [s for s in self._sessions if sessions.get(s) is None]:
                    self._forget_locked(session_id)
            found: set[str] = set()
            for subs in self._sessions.values():
                for reads in (subs.main, *subs.fragments.values()):
                    found.update(key[0] for key in reads if type(key) is tuple)
            return found

    def showing(self, *, on_loop: bool = False) -> dict[str, list[str]]:
        """Per namespace, the ids of the live sessions whose latest run used it: what
        presence (``_presence.py``) counts in this process.

        A session counts once per namespace, from its first use in a run until a
        run of it that does not use it has ended, or it asks for another page, or
        it closes.  ``on_loop``: called on the server's event loop, where a
        session's runs can be seen to have ended.
        """
        sessions = self._get_sessions()
        with self._lock:
            views: dict[str, SessionView] = {}
            if sessions is not None:
                for session_id in list(self._sessions):
                    view = sessions.get(session_id)
                    if view is None:
                        self._forget_locked(session_id)
                    else:
                        views[session_id] = view
            found: dict[str, list[str]] = {}
            for session_id, subs in self._sessions.items():
                view = views.get(session_id)
                if view is not None:
                    if subs.page is not None and view.page not in (subs.page, subs.asked):
                        continue  # left for another page
                    if on_loop and subs.was_used and view.settled:
                        subs.was_used = set()  # the latest run ended: its own uses count
                for namespace in subs.used | subs.was_used:
                    found.setdefault(namespace, []).append(session_id)
            return found

    def watched(self, kind: type[_T]) -> set[_T]:
        """The topics of this kind (e.g. ``Presence``) that some live run reads."""
        with self._lock:
            return {key for key in self._readers if isinstance(key, kind)}

    def sessions(self) -> Sessions | None:
        """The server's live sessions (None without a server)."""
        return self._get_sessions()

    def pending(self) -> int:
        """How many sessions have a re-run due that was not requested yet: once it is 0
        (and every process heard every write), nothing more will be pushed."""
        with self._lock:
            return sum(1 for subs in self._sessions.values() if subs.dirty)

    def tracked_sessions(self) -> int:
        """How many sessions the engine holds subscriptions for."""
        with self._lock:
            return len(self._sessions)

    def take_recorded(self, *, clear: bool = True) -> list[RerunRecord]:
        """The re-runs recorded where no server could run them (and clear them).

        A writer's catch-up is decided here, where its run has ended (without a
        server nobody else can tell when it has).
        """
        with self._lock:
            for session_id, subs in list(self._sessions.items()):
                if subs.dirty:
                    self._flush_locked(session_id, None)
            recorded = list(self._recorded)
            if clear:
                self._recorded = []
            return recorded


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def use_engine(replacement: Engine | None) -> Engine | None:
    """Make ``replacement`` the process-wide engine (tests); return the previous one."""
    global _ENGINE
    with _ENGINE_LOCK:
        previous, _ENGINE = _ENGINE, replacement
    return previous


def engine() -> Engine:
    """The process-wide engine, created on first use (never at import)."""
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                _ENGINE = Engine(min_interval=settings().min_rerun_interval)
    return _ENGINE
