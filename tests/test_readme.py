"""The README's first page on a real server (``tests/test_docs.py`` runs every block)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


@pytest.mark.server
@pytest.mark.smoke
async def test_the_first_page_serves_two_sessions(tmp_path: Path) -> None:
    """The README's first page on a real `streamlit run` server, as a new user runs it:
    one session's +1 reaches the other.  Runs on every Python the package claims
    (Python 3.13 could not import the package at all)."""
    from tests.harness import StreamlitClient, StreamlitServer

    app = tmp_path / "app.py"
    app.write_text(snippets()[0])
    with StreamlitServer(app, log=tmp_path / "server.log") as server:
        ann = await StreamlitClient(server.ws_url).connect()
        bob = await StreamlitClient(server.ws_url).connect()
        assert "`0`" in bob.texts()  # st.write of a number
        await ann.click("+1")
        await bob.wait_for_text("`1`")
        await ann.wait_for_text("`1`")  # its catch-up run: it drew 0 above the button
        assert "Counted." in ann.texts()  # notice: kept through the catch-up run
        assert bob.runs[-1].pushed
        await ann.close()
        await bob.close()
