"""The docs site builds strict, documents every public name, and every code block in it
and in the README runs and type-checks (``tests/docs.py`` says how blocks make programs)."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import typed_state
from tests import docs
from tests.test_typing import cache_dir

ROOT = docs.ROOT
PAGES_WITH_CODE = [page for page in docs.pages() if docs.python(page)]
EXAMPLES = ROOT / "examples"


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every page's code, run in a process of its own (``tests/docs.py``)."""
    folder = tmp_path_factory.mktemp("docs-run")
    result = subprocess.run(
        [sys.executable, "-m", "tests.docs", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_id)
def test_the_page_s_code_runs(page: Path, ran: dict[str, str]) -> None:
    """The page's blocks, in order, run as one Streamlit page under AppTest, and so does
    every whole example it includes; its modules run; its pytest files pass."""
    assert ran[_id(page)] == ""


def test_titled_blocks_have_one_meaning() -> None:
    """A module's name is unique across the docs (the checkers see them side by side),
    and no python block hides in an indented fence, which no test would see."""
    seen: dict[str, str] = {}
    for page in docs.pages():
        for block in docs.python(page):
            if block.title and not block.includes:
                assert block.title not in seen, f"{block.where}: {block.title} is also {seen}"
                seen[block.title] = block.where
        indented = re.findall(r"^[ \t]+```python", page.read_text(), re.M)
        assert not indented, f"{page}: an indented python block"


def test_includes_are_files_the_tests_run() -> None:
    sections = 0
    for page in docs.pages():
        for block in docs.python(page):
            for file, section in block.includes:
                path = ROOT / file
                assert path.is_file(), f"{block.where}: {file} does not exist"
                assert path.is_relative_to(EXAMPLES), f"{block.where}: {file} is not an example"
                if section:
                    assert f"# --8<-- [start:{section}]" in path.read_text(), block.where
                    sections += 1
    assert sections, "no include of a section: the check above would be vacuous"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs-code")
    docs.write_all(folder)
    return folder


def test_every_block_type_checks_under_mypy(written: Path) -> None:
    files = sorted(str(path) for path in written.glob("*.py"))
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file"),
            str(ROOT / "tests" / "typing" / "mypy.ini"),
            *("--cache-dir", str(cache_dir("mypy.ini"))),
            *("--no-error-summary", "--hide-error-context", *files),
        ],
        cwd=written,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_block_type_checks_under_basedpyright(written: Path) -> None:
    """The blocks, and the examples the docs include whole (mypy checks those in the
    lint step, with the project's own configuration)."""
    config = written / "pyrightconfig.json"
    config.write_text(
        json.dumps(
            {
                "typeCheckingMode": "standard",
                "pythonVersion": "3.11",
                "extraPaths": [str(ROOT), str(written), str(EXAMPLES)],
                "reportMissingModuleSource": False,
            }
        )
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "basedpyright"),
            *("--project", str(config), "--pythonpath", sys.executable, "--outputjson"),
            *sorted(str(path) for path in written.glob("*.py")),
            *sorted({str(path) for page in docs.pages() for path in docs.includes(page)}),
        ],
        cwd=written,
        capture_output=True,
        text=True,
        check=False,
    )
    found = json.loads(result.stdout)["generalDiagnostics"]
    errors = [
        f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in found
        if d["severity"] == "error"
    ]
    assert not errors, "\n".join(errors)


def test_every_public_name_has_an_entry_with_a_docstring_that_renders() -> None:
    """28 of 70 public objects and members had no docstring, and the docstrings used
    Sphinx roles that the site showed raw."""
    griffe = pytest.importorskip("griffe")
    package = griffe.load("typed_state", search_paths=[str(ROOT)])
    reference = (ROOT / "docs" / "reference.md").read_text()
    undocumented, raw = [], []

    def visit(obj: object, name: str) -> None:
        target = obj.final_target if obj.is_alias else obj  # type: ignore[attr-defined]
        text = target.docstring.value if target.docstring else ""
        if not text.strip():
            undocumented.append(name)
        if re.search(r":(class|meth|func|attr|exc|data|mod):`|::\s*$", text, re.M):
            raw.append(name)
        if target.is_class:
            for member_name, member in target.members.items():
                if not member_name.startswith("_") and not member.is_alias:
                    visit(member, f"{name}.{member_name}")

    for name in typed_state.__all__:
        assert f"::: typed_state.{name}\n" in reference, f"{name} has no API entry"
        visit(package[name], name)
    assert not undocumented, f"no docstring: {undocumented}"
    assert not raw, f"Sphinx markup that Markdown shows raw: {raw}"


def test_the_site_builds_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (tmp_path / "reference" / "index.html").read_text()
    # Signatures showed `timeout=DEFAULT_LOCK_TIMEOUT`, a private name, not its value.
    assert "DEFAULT_" not in reference
    assert "30.0" in reference


def test_the_timeouts_the_signatures_show_are_the_default() -> None:
    from typed_state import SharedState
    from typed_state._slot import DEFAULT_LOCK_TIMEOUT

    for name in ("lock", "mutate", "update", "batch", "append", "set_item", "del_item"):
        parameter = inspect.signature(getattr(SharedState, name)).parameters["timeout"]
        assert parameter.default == DEFAULT_LOCK_TIMEOUT, name


def test_the_readme_is_a_landing_page() -> None:
    """It was 1,296 lines: the guide, the stores, the faults and the benchmark log."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    links = re.findall(r"\]\(((?:docs/|CHANGELOG)[^)#]*)", readme)
    assert len(links) > 20
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing


def test_the_commands_and_settings_name_what_exists() -> None:
    """Shell and config blocks are not run: the files they run, the store URLs they set
    and the mypy plugins they enable are checked against what the package has."""
    from urllib.parse import urlsplit

    from typed_state._backends._postgres import parse_url
    from typed_state._backends._redis_url import connect
    from typed_state._open import STORES

    shell = [b for page in docs.pages() for b in docs.blocks(page) if b.language == "bash"]
    files, urls = 0, 0
    for block in shell:
        for path in re.findall(
            r"(?:streamlit run|python3?) ((?:examples|tests)/\S+\.py)", block.code
        ):
            assert (ROOT / path).is_file(), f"{block.where}: {path} does not exist"
            files += 1
        for url in re.findall(r"TYPED_STATE_URL='?([^'\s]+)", block.code):
            scheme = urlsplit(url).scheme
            kind = next((k for k in STORES if scheme in k.schemes), None)
            assert kind is not None, f"{block.where}: {url} has no store"
            if kind.module == "_redis":
                connect(url).client.close()  # parsed; nothing is sent
            elif kind.module == "_postgres":
                parse_url(url)
            urls += 1
    assert files >= 8, files
    assert urls >= 8, urls
    (ini,) = [
        b for b in docs.blocks(ROOT / "docs" / "guide" / "type-checking.md") if b.language == "ini"
    ]
    plugins = re.search(r"^plugins = .*$", ini.code, re.M)
    assert plugins
    assert plugins[0] in (ROOT / "tests" / "typing" / "mypy.ini").read_text()
