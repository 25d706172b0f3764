"""The README's snippets run as written: the page at its top, and its testing recipe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_testing_recipe_sees_what_a_browser_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under AppTest the writer got no catch-up run: after the first snippet's "+1"
    click the page showed 0, where a browser shows 1."""
    page, *others = snippets()
    (recipe,) = [s for s in others if "def test_" in s and "AppTest" in s]
    app = tmp_path / "app.py"
    app.write_text(page)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(recipe.replace('"app.py"', repr(str(app))), namespace)
    (test,) = [value for name, value in namespace.items() if name.startswith("test_")]
    test()  # type: ignore[operator]


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
