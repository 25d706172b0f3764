"""The package as users install it: every module compiles on this Python, and the
published metadata says what a user needs (and nothing a user does not)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted((ROOT / "typed_state").rglob("*.py"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_compiles_on_this_python(path: Path) -> None:
    """Python 3.13 refused a docstring holding a lone surrogate ("\\ud800" unescaped),
    so the first public name (which imports every public module) failed to import
    there.  CI runs this on every Python the package claims (tests/run.py)."""
    compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)


def test_this_python_is_one_the_package_claims() -> None:
    claimed = {
        c.rsplit(" :: ", 1)[1]
        for c in PYPROJECT["project"]["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    from tests.run import PYTHONS, THIS_PYTHON

    assert THIS_PYTHON in claimed
    assert set(PYTHONS) == claimed, "tests/run.py runs the suite on every claimed Python"


def test_metadata_links_and_extras() -> None:
    project = PYPROJECT["project"]
    assert {"Source", "Documentation", "Changelog", "Issues"} <= set(project["urls"])
    extras = project["optional-dependencies"]
    # Tools for working on typed_state are dependency groups, not extras users see.
    assert set(extras) == {"redis", "postgres", "mypy"}
    assert {"dev", "bench"} <= set(PYPROJECT["dependency-groups"])


def test_the_floors_are_what_the_oldest_set_pins() -> None:
    """The oldest lock pins each dependency at the floor pyproject.toml states."""
    from tests.run import FLOORS, OLDEST_LOCK

    floors = {
        req.split(">=")[0].split("[")[0]: req.split(">=")[1]
        for req in [
            *PYPROJECT["project"]["dependencies"],
            *(r for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs),
        ]
    }
    pinned = {name.split("[")[0]: version for name, version in (p.split("==") for p in FLOORS)}
    locked = dict(
        line.split(";")[0].strip().split("==")
        for line in OLDEST_LOCK.read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    )
    for name, floor in floors.items():
        assert pinned[name].startswith(floor), name
        assert locked[name] == pinned[name], name


def test_the_runner_describes_itself() -> None:
    """`tests/run.py --help` printed pytest's help after installing everything."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "run.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--python" in done.stdout
    assert "oldest set" in done.stdout
    assert "pytest" in done.stdout
    assert "--collect-only" not in done.stdout  # pytest's own help
