"""The demo's shared document: two editors race on a real server (and on two sharing Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import StreamlitClient
from tests.test_server import Servers, run_servers

pytestmark = pytest.mark.server

DEMO = Path(__file__).resolve().parent.parent / "examples" / "app.py"


@pytest.fixture(scope="module", params=["memory", "redis"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    yield from run_servers(request, tmp_path_factory, DEMO)


async def editor(servers: Servers) -> StreamlitClient:
    client = await StreamlitClient(servers.pick(None).ws_url).connect()
    await client.goto("editor")
    await client.wait_for(lambda: "Shared document" in client.texts() and not client.busy)
    return client


def theirs(client: StreamlitClient) -> str:
    """What the disabled "Their version" box shows."""
    return str(client.find("Their version").text_area.default)


async def test_the_second_save_is_refused_and_can_overwrite(servers: Servers) -> None:
    ann, bob = await editor(servers), await editor(servers)
    await ann.set_widget("Your draft", "ann's text")
    await bob.set_widget("Your draft", "bob's text")
    await ann.click("Save")
    await ann.wait_idle()
    await bob.click("Save")  # bob started from the version before ann's save
    await bob.wait_for(lambda: any("nothing was saved" in t for t in bob.texts()) and not bob.busy)
    assert theirs(bob) == "ann's text"  # their version, shown beside his
    await bob.click("Overwrite with mine")
    await bob.wait_idle()
    await ann.wait_for(lambda: any("at version" in t and "version 2." in t for t in ann.texts()))
    await ann.click("Save")  # now ann is the stale one
    await ann.wait_for(lambda: any("nothing was saved" in t for t in ann.texts()) and not ann.busy)
    assert theirs(ann) == "bob's text"
    await ann.click("Load theirs (drop my edits)")
    await ann.wait_for(lambda: not any("nothing was saved" in t for t in ann.texts()))
    await ann.close()
    await bob.close()
