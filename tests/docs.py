"""The code blocks of the README and the docs site, as the programs they make.

Every ```` ```python ```` block is one of three things:

- a block with no title: part of its page's program.  A page's untitled blocks, in
  order, are one Streamlit page (what a reader who copies them in order runs);
- a block titled with a file name (```` ```python title="states.py" ````): that module,
  which the page's program may import.  Titles are unique across the docs;
  ``test_*.py`` is a pytest file about the page (the page's program is ``app.py``);
- an include: ``--8<--`` lines around a file of ``examples/`` (whole, or
  ``file.py:section``), in pymdownx.snippets' block form, which ruff's formatter leaves
  alone.  A whole file runs with the page; ``tests/test_examples.py`` runs the demo's.

``tests/test_docs.py`` runs each page's program under AppTest, imports its modules,
runs its pytest files and type-checks all of it under mypy and basedpyright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)(.*)$")
TITLE = re.compile(r'title="([^"]+)"')
INCLUDE = re.compile(r"^([^\s:]+)(?::(\w+))?$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    title: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def includes(self) -> list[tuple[str, str]]:
        """(file, section) of each include line; [] for a block of code."""
        lines = [line.strip() for line in self.code.splitlines() if line.strip()]
        if len(lines) < 3 or lines[0] != "--8<--" or lines[-1] != "--8<--":
            return []
        found = [INCLUDE.match(line) for line in lines[1:-1]]
        return [(m[1], m[2] or "") for m in found if m]


def pages() -> list[Path]:
    """The README and every page of the docs site."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text().splitlines()
    number = 0
    while number < len(lines):
        opened = FENCE.match(lines[number])
        number += 1
        if not opened:
            continue
        start = number
        while not lines[number].startswith("```"):
            number += 1
        title = TITLE.search(opened[2])
        code = "\n".join(lines[start:number]) + "\n"
        found.append(Block(page, start, opened[1], title[1] if title else "", code))
        number += 1
    return found


def python(page: Path) -> list[Block]:
    return [block for block in blocks(page) if block.language == "python"]


def program(page: Path) -> str:
    """The page's untitled blocks, in order: one Streamlit page."""
    return "".join(b.code for b in python(page) if not b.title and not b.includes)


def modules(page: Path) -> dict[str, str]:
    """File name -> code of the page's titled blocks (pytest files included)."""
    return {b.title: b.code for b in python(page) if b.title and not b.includes}


def slug(page: Path) -> str:
    """A module name for the page's program: ``docs/guide/widgets.md`` -> ``page_guide_widgets``."""
    name = "readme" if page.name == "README.md" else str(page.relative_to(DOCS).with_suffix(""))
    return "page_" + re.sub(r"\W", "_", name)


def write_all(folder: Path) -> dict[Path, Path]:
    """Each page's program and modules as files in ``folder`` (for the checkers);
    page -> its program's file (pages with none left out)."""
    written: dict[Path, Path] = {}
    for page in pages():
        for name, code in modules(page).items():
            (folder / name).write_text(code)
        if code := program(page):
            written[page] = folder / f"{slug(page)}.py"
            written[page].write_text(code)
    return written


def includes(page: Path) -> list[Path]:
    """The whole files of examples/ the page includes (sections left out)."""
    return [ROOT / f for b in python(page) for f, section in b.includes if not section]


def run(page: Path, folder: Path) -> str:
    """Run the page's program under AppTest (and each whole file it includes), then its
    modules and its pytest files, in ``folder``; what failed, or ""."""
    import os
    import runpy
    import sys
    import traceback

    from streamlit.testing.v1 import AppTest

    from typed_state import testing

    folder.mkdir(parents=True)
    os.chdir(folder)
    sys.path[:0] = [str(folder), str(ROOT / "examples")]
    try:
        scripts = []
        for name, code in modules(page).items():
            (folder / name).write_text(code)
        if code := program(page):
            (folder / "app.py").write_text(code)
            scripts.append(folder / "app.py")
        for script in [*scripts, *includes(page)]:
            testing.reset()
            at = AppTest.from_file(str(script), default_timeout=30).run()
            if at.exception:
                return f"{script.name}: {[e.value for e in at.exception]}"
            if script != folder / "app.py" and (at.warning or at.error):
                # A whole example shows no warning or error on its first run.
                return f"{script.name}: {[e.value for e in [*at.warning, *at.error]]}"
        for name in modules(page):
            testing.reset()
            namespace = runpy.run_path(str(folder / name), run_name="__main__")
            for test_name, test in namespace.items():
                if name.startswith("test_") and test_name.startswith("test_"):
                    testing.reset()
                    test()
    except BaseException:
        return traceback.format_exc()
    finally:
        del sys.path[:2]
    return ""


if __name__ == "__main__":
    # A process of its own: the threads a page starts (a worker, a feed) end with it.
    import json
    import sys

    out = Path(sys.argv[1])
    results = {str(p.relative_to(ROOT)): run(p, out / slug(p)) for p in pages() if python(p)}
    print(json.dumps(results))
