"""A headless Streamlit client speaking the browser's websocket protocol.

It opens a session on ``/_stcore/stream``, asks for runs the way the browser
does (``BackMsg.rerun_script`` carrying its page, query string and widget
values), and records every run: its elements, whether it was pushed by the
server (a run nobody asked for) and whether it was a fragment run.
Many clients can run at once on one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import DoubleArray
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

if TYPE_CHECKING:
    from streamlit.proto.Element_pb2 import Element

_TEXT_KINDS = (
    "markdown",
    "text",
    "heading",
    "alert",
    "code",
    "exception",
    "metric",
    "progress",
)


@dataclass
class Run:
    """One script run as the client saw it."""

    pushed: bool
    """True when the server started it without this client asking."""
    fragment_ids: tuple[str, ...]
    started: float
    finished: float | None = None
    status: str | None = None
    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)

    @property
    def is_fragment_run(self) -> bool:
        return bool(self.fragment_ids)

    @property
    def completed(self) -> bool:
        return self.status in (
            "FINISHED_SUCCESSFULLY",
            "FINISHED_FRAGMENT_RUN_SUCCESSFULLY",
        )

    def texts(self) -> list[str]:
        return [_text(e) for _, e in sorted(self.elements.items()) if _text(e)]


def _fragment_ids(msg: ForwardMsg) -> tuple[str, ...]:
    """The fragments a run re-runs (none for a full run), where the release puts them:
    ``metadata.run`` since Streamlit 1.6x, ``new_session.fragment_ids_this_run`` before."""
    if "run" in msg.metadata.DESCRIPTOR.fields_by_name:
        return tuple(msg.metadata.run.fragment_ids)
    return tuple(msg.new_session.fragment_ids_this_run)


def _text(element: Element) -> str:
    kind = element.WhichOneof("type")
    if kind not in _TEXT_KINDS:
        return ""
    body = getattr(element, kind)
    if kind == "exception":
        return f"{body.type}: {body.message}"
    if kind == "metric":
        return f"{body.label}: {body.body}"
    if kind == "progress":
        return str(body.text)
    return str(body.body)


class StreamlitClient:
    """One browser session, without the browser."""

    def __init__(self, ws_url: str, *, page_script_hash: str = "", query_string: str = "") -> None:
        self.ws_url = ws_url
        self.page_script_hash = page_script_hash
        self.query_string = query_string
        self.session_id: str | None = None
        self.runs: list[Run] = []
        self.pages: dict[str, str] = {}
        """Page name (url path) -> page script hash, from the navigation message."""
        self.screen: dict[tuple[int, ...], Element] = {}
        """What a browser would show: elements by delta path, across fragment runs."""
        self.seen_at: dict[str, float] = {}
        """Text -> ``time.monotonic()`` when an element showing it first arrived."""
        self._widget_states: dict[str, WidgetState] = {}
        self._fragment_of: dict[tuple[int, ...], str] = {}
        """Delta path -> id of the fragment that drew the element there."""
        self._outstanding = 0
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # -- connection -------------------------------------------------------------------

    async def connect(self, *, run: bool = True) -> StreamlitClient:
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=30,  # type: ignore[list-item]
        )
        self._reader = asyncio.create_task(self._read())
        if run:
            await self.rerun()
            await self.wait_idle()
        return self

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # -- asking for runs ---------------------------------------------------------------

    async def rerun(self, *, page_script_hash: str | None = None, fragment_id: str = "") -> None:
        """Ask for a run, sending page, query string and widget values (as a browser)."""
        if page_script_hash is not None:
            self.page_script_hash = page_script_hash
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.fragment_id = fragment_id
        state.widget_states.widgets.extend(self._widget_states.values())
        # Triggers (button clicks) are sent once, as the browser does.
        for wid in [
            w for w, s in self._widget_states.items() if s.WhichOneof("value") == "trigger_value"
        ]:
            del self._widget_states[wid]
        self._outstanding += 1
        await self._ws.send(msg.SerializeToString())

    async def goto(self, page: str) -> None:
        """Navigate to a page by its url path (as in ``st.Page(url_path=...)``)."""
        await self.rerun(page_script_hash=self.pages[page])

    def find(self, label: str, kind: str | None = None) -> Element:
        for _, element in sorted(self.screen.items()):
            k = element.WhichOneof("type")
            if kind is not None and k != kind:
                continue
            body = getattr(element, k)
            if getattr(body, "label", None) == label and getattr(body, "id", ""):
                return element
        raise LookupError(f"no widget labelled {label!r} on screen: {self.texts()}")

    async def click(self, label: str) -> None:
        element = self.find(label, "button")
        wid = element.button.id
        self._widget_states[wid] = WidgetState(id=wid, trigger_value=True)
        # As the browser does: a click inside a fragment asks for that fragment's run.
        await self.rerun(fragment_id=self._fragment_of.get(self._path_of(element), ""))

    def _path_of(self, element: Element) -> tuple[int, ...]:
        return next(path for path, shown in self.screen.items() if shown is element)

    async def set_widget(self, label: str, value: Any, *, send: bool = True) -> None:
        """Change a widget as a user would; ``send=False`` for one inside ``st.form``, whose
        value a browser sends only with the form's submit button."""
        element = self.find(label)
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        state = WidgetState(id=body.id)
        if kind == "slider":
            values = value if isinstance(value, list | tuple) else [value]
            state.double_array_value.CopyFrom(DoubleArray(data=[float(v) for v in values]))
        elif kind in ("checkbox", "toggle"):
            state.bool_value = bool(value)
        elif kind in ("text_input", "text_area"):
            state.string_value = str(value)
        elif kind == "number_input":
            if isinstance(value, int):
                state.int_value = value
            else:
                state.double_value = float(value)
        else:
            raise NotImplementedError(f"set_widget for {kind}")
        self._widget_states[body.id] = state
        if send:
            await self.rerun()

    def widget_value(self, label: str) -> Any:
        """What the widget labelled ``label`` holds now, as the browser would show it."""
        element = self.find(label)
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        state = self._widget_states.get(body.id)
        if kind == "slider":
            values = list(state.double_array_value.data) if state else list(body.default)
            return values[0] if len(values) == 1 else values
        if kind == "checkbox":
            return state.bool_value if state else body.default
        if kind == "text_input":
            return state.string_value if state else body.default
        raise NotImplementedError(f"widget_value for {kind}")

    # -- watching ---------------------------------------------------------------------------

    def texts(self) -> list[str]:
        return [_text(e) for _, e in sorted(self.screen.items()) if _text(e)]

    @property
    def busy(self) -> bool:
        return self._outstanding > 0 or bool(self.runs and self.runs[-1].finished is None)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out; screen shows {self.texts()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_text(self, text: str, timeout: float = 10.0) -> None:
        """Wait until a finished run leaves ``text`` on screen."""
        await self.wait_for(lambda: not self.busy and any(text in t for t in self.texts()), timeout)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: not self.busy, timeout)

    # -- reading the server -------------------------------------------------------------

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self._handle(msg)
            self._changed.set()

    def _take_value_set_by_server(self, element: Element) -> None:
        """As the browser does: a widget whose value the script set now holds it."""
        kind = element.WhichOneof("type")
        body = getattr(element, kind) if kind else None
        if body is None or not getattr(body, "set_value", False):
            return
        state = WidgetState(id=body.id)
        if kind == "slider":
            state.double_array_value.CopyFrom(DoubleArray(data=list(body.value)))
        elif kind == "checkbox":
            state.bool_value = body.value
        elif kind == "text_input":
            state.string_value = body.value
        else:
            return
        self._widget_states[body.id] = state

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            fragment_ids = _fragment_ids(msg)
            pushed = self._outstanding == 0
            self._outstanding = 0
            run = Run(pushed=pushed, fragment_ids=fragment_ids, started=time.monotonic())
            self.runs.append(run)
            if not fragment_ids:
                self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            if msg.navigation.page_script_hash:
                self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "delta" and self.runs:
            if msg.delta.WhichOneof("type") == "new_element":
                path = tuple(msg.metadata.delta_path)
                self.runs[-1].elements[path] = msg.delta.new_element
                self.seen_at.setdefault(_text(msg.delta.new_element), time.monotonic())
                self.screen[path] = msg.delta.new_element
                self._fragment_of[path] = msg.delta.fragment_id
                self._take_value_set_by_server(msg.delta.new_element)
        elif kind == "script_finished" and self.runs:
            run = self.runs[-1]
            run.finished = time.monotonic()
            run.status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if run.status == "FINISHED_SUCCESSFULLY":
                # The browser drops what the completed full run did not draw.
                self.screen = dict(run.elements)
