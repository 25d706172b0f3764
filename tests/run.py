"""Set up everything the test suite needs on a fresh machine, then run it.

    python3 tests/run.py              the whole suite, as CI runs it
    python3 tests/run.py [pytest arguments]
                                      only pytest with these arguments, on the newest set
    python3 tests/run.py --newest     the whole suite on the newest release of everything
    python3 tests/run.py --lock       write the two lock files anew (then run the suite)

Installs the programs the tests drive (Debian's chromium and redis-server) when they are
missing, checks the code with ruff and mypy, and runs pytest twice:

- in ``.venv``, the newest supported Streamlit and pydantic with every tool pinned by
  ``tests/requirements.lock``: the whole suite;
- in ``.venv-oldest``, the oldest supported Streamlit (1.50) and pydantic (2.11), pinned by
  ``tests/requirements-oldest.lock``: the unit, AppTest and real-server (in-memory)
  tests and the stub checks.

The locks make a fresh clone reproducible: a release of any tool cannot turn it red.
``--newest`` (in ``.venv-newest``) meets drift on purpose.  Only Python 3.11+ is needed
beforehand (and root, or sudo, if a Debian package must be installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "tests" / "requirements.lock"
OLDEST_LOCK = ROOT / "tests" / "requirements-oldest.lock"
OLDEST = ["streamlit==1.50.0", "pydantic==2.11.0"]
"""The oldest releases the package supports (``pyproject.toml``'s floors)."""

OLDEST_SELECTION = [
    *("-m", "not redis and not browser", "-k", "not redis and not sqlite"),
    *("--ignore", "tests/test_typing.py"),
]
"""What runs on the oldest set: the unit, AppTest and real-server (in-memory) tests and
the stub checks, everything that depends on Streamlit's or pydantic's release (the
mypy plugin's snippets, the shared stores and the browser run on the newest set)."""

SYSTEM_PROGRAMS = {"chromium": "chromium", "redis-server": "redis-server"}
"""Program the tests run -> the Debian package that provides it."""


def step(title: str, *command: str | Path) -> None:
    print(f"\n== {title}: {' '.join(map(str, command))}", flush=True)
    subprocess.run([str(c) for c in command], cwd=ROOT, check=True)


def ensure_system_programs() -> None:
    missing = sorted({pkg for prog, pkg in SYSTEM_PROGRAMS.items() if not shutil.which(prog)})
    if not missing:
        return
    sudo: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            sys.exit(f"the tests need the Debian packages {missing}: install them as root")
        sudo = ["sudo"]
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"\n== apt-get install {' '.join(missing)}", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=apt_env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=apt_env,
    )


def environment(name: str, *pip_args: str) -> Path:
    """A venv under ROOT with the package (editable) and its ``dev`` extra installed."""
    python = ROOT / name / "bin" / "python"
    if not python.exists():
        print(f"== creating {ROOT / name}", flush=True)
        venv.create(ROOT / name, with_pip=True)
    step(f"install into {name}", python, "-m", "pip", "install", "-q", *pip_args, "-e", ".[dev]")
    return python


def pytest(python: Path, *args: str) -> int:
    print(f"\n== pytest ({python.parent.parent.name}) {' '.join(args)}", flush=True)
    return subprocess.run([str(python), "-m", "pytest", *args], cwd=ROOT).returncode


def write_locks() -> None:
    """Resolve the newest set and the oldest set again, with uv, for Python 3.11 to 3.13."""
    python = environment(".venv", "-c", str(LOCK))
    step("install uv", python, "-m", "pip", "install", "-q", "uv")
    compile_ = [str(python), "-m", "uv", "pip", "compile", "pyproject.toml", "--universal"]
    compile_ += ["--python-version", "3.11", "--no-header", "--quiet"]
    step("lock the newest set", *compile_, "--extra", "dev", "--extra", "bench", "-o", LOCK)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("\n".join(OLDEST) + "\n")
    try:
        step("lock the oldest set", *compile_, "--extra", "dev", "-c", pins.name, "-o", OLDEST_LOCK)
    finally:
        os.unlink(pins.name)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - run by whatever python3 is installed
        sys.exit("typed_state needs Python 3.11 or newer")
    args = sys.argv[1:]
    ensure_system_programs()
    if "--lock" in args:
        args.remove("--lock")
        write_locks()
    if "--newest" in args:
        args.remove("--newest")
        python = environment(".venv-newest", "--upgrade", "--upgrade-strategy", "eager")
    else:
        python = environment(".venv", "-c", str(LOCK))
    step("ruff", python, "-m", "ruff", "check", ".")
    step("ruff format", python, "-m", "ruff", "format", "--check", ".")
    step("mypy", python, "-m", "mypy")
    if args:  # a selection of tests: run just that
        return pytest(python, *args)
    failed = pytest(python)
    oldest = environment(".venv-oldest", "-c", str(OLDEST_LOCK))
    failed_oldest = pytest(oldest, *OLDEST_SELECTION)
    print(
        f"\n== newest set: {'FAILED' if failed else 'passed'}; "
        f"oldest set (Streamlit 1.50, pydantic 2.11): {'FAILED' if failed_oldest else 'passed'}",
        flush=True,
    )
    return failed or failed_oldest


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
