"""mypy on the snippets in tests/typing/: exactly the expected errors, no others.

An expected message is written on its line, as in mypy's own test data::

    chat.cout = 1  # E: "Chat" has no attribute "cout"; maybe "count"?  [attr-defined]

``# E:`` is an error and ``# N:`` a note; one line may carry several.
"""

from __future__ import annotations

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

RELEASE_NOISE = re.compile(r'^"\w+" defined in ".*"$')
"""Notes some mypy releases add and others not (1.19 has no "defined in" for the plugin's
``update`` signature); the oldest set runs mypy 1.19, the newest 2.x."""


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


def run_mypy(config: str, files: list[Path]) -> Findings:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(SNIPPETS / config),
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "typing-tests"),
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
