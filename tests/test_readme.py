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
