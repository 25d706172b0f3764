"""mypy on the snippets in tests/typing/: exactly the expected errors, no others.

An expected message is written on its line, as in mypy's own test data::

    chat.cout = 1  # E: "Chat" has no attribute "cout"; maybe "count"?  [attr-defined]

``# E:`` is an error and ``# N:`` a note; one line may carry several.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = Path(__file__).resolve().parent / "typing"
EXPECT = re.compile(r"#\s*(E|N):\s*(.*?)\s*(?=#\s*[EN]:|$)")
REPORTED = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")

Findings = dict[str, list[tuple[int, str, str]]]

RELEASE_NOISE = re.compile(r'^("\w+" defined in ".*"|Possible overload variants:|    def .*)$')
"""Notes some mypy releases add and others not (1.19 has no "defined in" for the plugin's
``update`` signature; the oldest set runs mypy 1.19, the newest 2.x), and the list of a
method's overloads that follows "No overload variant" (the string form's, as the plugin
types it, is the last)."""


def normal(text: str) -> str:
    """A message as mypy 2 words it: 1.x spells builtin types out ("builtins.int")."""
    return text.replace("builtins.", "")


def expected(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        code = line.split("#", 1)
        if len(code) < 2:
            continue
        for kind, text in EXPECT.findall("#" + code[1]):
            found.append((number, "error" if kind == "E" else "note", text))
    return sorted(found)


def cache_dir(config: str) -> Path:
    """mypy's cache for one configuration: the two configurations sharing one cache
    re-checked Streamlit and pydantic on every switch (about 20 s each, five times)."""
    return ROOT / ".mypy_cache" / f"typing-{Path(config).stem}"


def run_mypy(config: str, files: list[Path]) -> Findings:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(SNIPPETS / config),
            "--cache-dir",
            str(cache_dir(config)),
            "--no-error-summary",
            "--hide-error-context",
            *map(str, files),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), f"mypy crashed:\n{result.stdout}{result.stderr}"
    findings: Findings = defaultdict(list)
    for line in result.stdout.splitlines():
        match = REPORTED.match(line)
        assert match, f"unexpected mypy output: {line}"
        findings[Path(match["path"]).name].append(
            (int(match["line"]), match["kind"], normal(match["text"]))
        )
    return findings


@pytest.fixture(scope="module")
def with_plugin() -> Findings:
    return run_mypy("mypy.ini", sorted(SNIPPETS.glob("*.py")))


@pytest.fixture(scope="module")
def without_plugin() -> Findings:
    return run_mypy("mypy-no-plugin.ini", [SNIPPETS / "bad_attributes.py"])


def check(findings: Findings, snippet: str) -> None:
    reported = {f for f in findings.get(snippet, []) if not RELEASE_NOISE.match(f[2])}
    wanted = {f for f in expected(SNIPPETS / snippet) if not RELEASE_NOISE.match(f[2])}
    problems = [f"missing   {snippet}:{n}: {k}: {t}" for n, k, t in sorted(wanted - reported)]
    problems += [f"unexpected {snippet}:{n}: {k}: {t}" for n, k, t in sorted(reported - wanted)]
    assert not problems, "mypy did not report what the snippet expects:\n" + "\n".join(problems)


@pytest.mark.parametrize("snippet", ["ok_usage.py", "bad_attributes.py", "bad_field_names.py"])
def test_mypy_reports_exactly_the_expected(snippet: str, with_plugin: Findings) -> None:
    check(with_plugin, snippet)


def test_attribute_checks_need_no_plugin(without_plugin: Findings) -> None:
    check(without_plugin, "bad_attributes.py")


def test_states_module_is_clean(with_plugin: Findings) -> None:
    assert with_plugin.get("states.py", []) == []


# -- fields named by selectors: the same checks in every checker ------------------------------

SELECTOR_SNIPPETS = [SNIPPETS / "selectors_ok.py", SNIPPETS / "selectors_bad.py"]


def marked(path: Path) -> set[int]:
    """The lines of ``path`` marked ``# error``."""
    lines = path.read_text().splitlines()
    return {n for n, line in enumerate(lines, start=1) if line.rstrip().endswith("# error")}


def error_lines(findings: Findings, name: str) -> set[int]:
    return {line for line, kind, _ in findings.get(name, []) if kind == "error"}


def basedpyright() -> Findings:
    """basedpyright (the checker of VS Code's Pylance) in its standard mode, no plugin."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "basedpyright"),
            "--project",
            str(SNIPPETS / "pyrightconfig.json"),
            "--pythonpath",
            sys.executable,
            "--outputjson",
            *map(str, SELECTOR_SNIPPETS),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    findings: Findings = defaultdict(list)
    for found in json.loads(result.stdout)["generalDiagnostics"]:
        findings[Path(found["file"]).name].append(
            (found["range"]["start"]["line"] + 1, found["severity"], found["message"])
        )
    return findings


@pytest.fixture(scope="module")
def checkers() -> dict[str, Findings]:
    return {
        "basedpyright (standard)": basedpyright(),
        "mypy --strict with the plugin": run_mypy("mypy.ini", SELECTOR_SNIPPETS),
        "mypy --strict without it": run_mypy("mypy-no-plugin.ini", SELECTOR_SNIPPETS),
    }


@pytest.mark.parametrize(
    "checker",
    ["basedpyright (standard)", "mypy --strict with the plugin", "mypy --strict without it"],
)
def test_every_checker_reports_each_misuse_of_a_selector_and_nothing_else(
    checker: str, checkers: dict[str, Findings]
) -> None:
    """basedpyright caught 2 of 14 misuses given as strings (no plugin can run in it):
    named by selectors, every checker catches every one, and correct code is clean."""
    findings = checkers[checker]
    assert error_lines(findings, "selectors_ok.py") == set()
    wanted = marked(SNIPPETS / "selectors_bad.py")
    assert len(wanted) == 20
    assert error_lines(findings, "selectors_bad.py") == wanted
