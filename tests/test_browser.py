"""The demo app in two real Chromium browsers (Playwright), counting every script run.

A run is counted from the browser's own websocket: Streamlit starts every script
run, pushed or asked for, with a ``new_session`` ForwardMsg, and the browser asks
for a run with a ``rerun_script`` BackMsg.  So each side knows how many runs it
saw and how many it asked for, without changing the app.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, WebSocket, async_playwright, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.harness import StreamlitServer
from tests.waits import eventually

pytestmark = pytest.mark.browser

DEMO = Path(__file__).resolve().parent.parent / "examples" / "app.py"
WATCH = 2.0
"""How long both browsers are watched for runaway re-runs after they settled (s)."""
METRIC = "[data-testid='stMetricValue']"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("TYPED_STATE_CHROMIUM") or shutil.which("chromium") or ""
    if not path:
        pytest.fail(
            "Chromium not found: `python3 tests/run.py` installs Debian's chromium, "
            "or set TYPED_STATE_CHROMIUM to a Chromium binary"
        )
    return path


@dataclass
class Tab:
    """One browser context with one page, and the runs seen on its websocket."""

    page: Page
    runs: int = 0
    asked: int = 0
    finished: int = 0
    running: bool = False
    """A run started and has not finished (a run replaced by a newer one never does)."""
    frames: list[str] = field(default_factory=list)

    def watch(self, ws: WebSocket) -> None:
        if not ws.url.endswith("/_stcore/stream"):
            return
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        kind = ForwardMsg.FromString(payload).WhichOneof("type")
        if kind == "new_session":
            self.runs += 1
            self.running = True
        elif kind == "script_finished":
            self.finished += 1
            self.running = False

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        if BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            self.asked += 1

    @property
    def pushed(self) -> int:
        """Runs the server started without this browser asking."""
        return self.runs - self.asked

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until the latest run this tab saw has finished and the page shows none going."""

        async def finished() -> bool:
            return not self.running

        try:
            await eventually(finished, timeout)
        except TimeoutError:
            raise AssertionError(f"the latest run never finished ({self.runs} runs)") from None
        await expect(self.page.get_by_test_id("stStatusWidget")).to_have_count(0)

    def counts(self) -> tuple[int, int]:
        return self.runs, self.asked


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    log = tmp_path_factory.mktemp("logs") / "demo.log"
    with StreamlitServer(DEMO, log=log) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_tab(browser: Browser, url: str, heading: str) -> Tab:
    """A new browser context on ``url``, once ``heading`` shows and the run ended."""
    context = await browser.new_context()
    tab = Tab(await context.new_page())
    tab.page.on("websocket", tab.watch)
    await tab.page.goto(url)
    await expect(tab.page.get_by_role("heading", name=heading)).to_be_visible(timeout=20_000)
    await tab.settled()
    return tab


async def quiet_for(tabs: list[Tab], seconds: float) -> list[tuple[int, int]]:
    """Let the tabs settle, then return their run counts before and after ``seconds``."""
    for tab in tabs:
        await tab.settled()
    before = [tab.counts() for tab in tabs]
    await asyncio.sleep(seconds)
    return before


async def test_click_in_one_browser_shows_in_the_other(
    demo: StreamlitServer, browser: Browser
) -> None:
    a = await open_tab(browser, demo.url, "Global counter")
    b = await open_tab(browser, demo.url, "Global counter")
    start = int(await b.page.locator(METRIC).inner_text())
    a_runs, b_runs = a.counts(), b.counts()

    await a.page.get_by_role("button", name="+1").click()
    await expect(b.page.locator(METRIC)).to_have_text(str(start + 1), timeout=10_000)
    await expect(a.page.locator(METRIC)).to_have_text(str(start + 1), timeout=10_000)
    before = await quiet_for([a, b], WATCH)

    # A ran once because it clicked; B ran once because it was pushed.
    assert (a.runs - a_runs[0], a.asked - a_runs[1]) == (1, 1)
    assert (b.runs - b_runs[0], b.asked - b_runs[1]) == (1, 0)
    # No runaway re-runs while both were watched.
    assert [a.counts(), b.counts()] == before
    assert a.finished == a.runs
    assert b.finished == b.runs


async def test_slider_moved_in_one_browser_follows_in_the_other(
    demo: StreamlitServer, browser: Browser
) -> None:
    a = await open_tab(browser, f"{demo.url}/slider", "Shared slider")
    b = await open_tab(browser, f"{demo.url}/slider", "Shared slider")
    thumb_a = a.page.get_by_role("slider")
    thumb_b = b.page.get_by_role("slider")
    start = int(await thumb_a.input_value())
    target = start + 5 if start <= 90 else start - 5
    key = "ArrowRight" if target > start else "ArrowLeft"
    b_runs = b.counts()

    await thumb_a.focus()
    for _ in range(5):
        await a.page.keyboard.press(key)
    await expect(thumb_a).to_have_value(str(target), timeout=10_000)
    await expect(thumb_b).to_have_value(str(target), timeout=10_000)
    await expect(b.page.get_by_text(f"{target} %")).to_be_visible()
    before = await quiet_for([a, b], WATCH)

    # B never asked for a run: everything it shows came from pushes, and at most
    # one push per value A sent.
    assert b.asked == b_runs[1]
    assert 1 <= b.runs - b_runs[0] <= a.asked
    assert [a.counts(), b.counts()] == before
    # A's own slider stayed where A put it.
    assert await thumb_a.input_value() == str(target)


async def test_todo_ticked_in_one_browser_is_ticked_in_the_other(
    demo: StreamlitServer, browser: Browser
) -> None:
    a = await open_tab(browser, f"{demo.url}/todos", "Shared todo list")
    b = await open_tab(browser, f"{demo.url}/todos", "Shared todo list")
    item = f"item {os.getpid()}-{id(a)}"
    await a.page.get_by_label("New item").fill(item)
    await a.page.get_by_role("button", name="Add").click()
    box_a = a.page.get_by_role("checkbox", name=item)
    box_b = b.page.get_by_role("checkbox", name=item)
    await expect(box_b).to_be_visible(timeout=10_000)
    await expect(box_b).not_to_be_checked()

    # The checkbox input is hidden behind Streamlit's styled box: click its label.
    await a.page.get_by_text(item, exact=True).click()
    await expect(box_a).to_be_checked(timeout=10_000)
    await expect(box_b).to_be_checked(timeout=10_000)
    await b.page.get_by_text(item, exact=True).click()
    await expect(box_b).not_to_be_checked(timeout=10_000)
    await expect(box_a).not_to_be_checked(timeout=10_000)
    before = await quiet_for([a, b], WATCH)
    assert [a.counts(), b.counts()] == before  # nothing loops


async def choose(tab: Tab, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (typed: the list may be long)."""
    box = tab.page.get_by_test_id("stSelectbox").filter(has_text=label)
    await expect(box).to_be_visible(timeout=10_000)
    field = box.get_by_role("combobox")
    chosen = tab.page.get_by_role("option", name=option, exact=True)
    for _ in range(5):  # a click while the expander above still moves may miss
        await field.click()
        await field.fill(option)
        try:
            await chosen.click(timeout=2_000)
            return
        except PlaywrightTimeoutError:
            await tab.page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {option!r} in {label!r}")


async def test_the_inspector_shows_a_click_live_and_refuses_a_bad_edit(
    demo: StreamlitServer, browser: Browser
) -> None:
    a = await open_tab(browser, demo.url, "Global counter")
    inspector = await open_tab(browser, f"{demo.url}/state", "Shared state")
    await inspector.page.get_by_label("Filter").fill("Counter")
    await inspector.page.get_by_label("Filter").press("Enter")
    start = int(await a.page.locator(METRIC).inner_text())

    await a.page.get_by_role("button", name="+1").click()
    await expect(a.page.locator(METRIC)).to_have_text(str(start + 1), timeout=10_000)
    # Within 2 s the inspector shows the write in its log, and the new value.
    row = inspector.page.get_by_role("row").filter(has_text=f"{start} → {start + 1}")
    await expect(row).to_be_visible(timeout=2_000)
    await expect(row).to_contain_text("a session")
    await expect(inspector.page.get_by_text("count: int · version")).to_be_visible()

    # An edit that does not validate shows the error and changes nothing.
    await inspector.page.get_by_text("Edit a field, or drop a member").click()
    await choose(inspector, "State", "Counter")
    await choose(inspector, "Field", "count")
    await inspector.page.get_by_label("New value (JSON)").fill("-5")
    await inspector.page.get_by_label("New value (JSON)").press("Control+Enter")
    await inspector.page.get_by_role("button", name="Set this value…").click()
    await inspector.page.get_by_role("button", name="Confirm").click()
    await expect(inspector.page.get_by_text("Counter.count was not changed")).to_be_visible(
        timeout=10_000
    )
    await a.page.wait_for_timeout(1_000)
    assert await a.page.locator(METRIC).inner_text() == str(start + 1)
