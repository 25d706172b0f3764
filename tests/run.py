"""Set up everything the test suite needs on a fresh machine, then run it.

    python3 tests/run.py [pytest arguments]

Installs the programs the tests drive (Debian's chromium and redis-server) when they are
missing, creates ``.venv`` (if missing) with the package and its ``dev`` extra,
checks the code with ruff and mypy, and runs pytest.  Only Python 3.11+ is
needed beforehand (and root, or sudo, if a Debian package must be installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def step(title: str, *command: str | Path) -> None:
    print(f"\n== {title}: {' '.join(map(str, command))}", flush=True)
    subprocess.run([str(c) for c in command], cwd=ROOT, check=True)


SYSTEM_PROGRAMS = {"chromium": "chromium", "redis-server": "redis-server"}
"""Program the tests run -> the Debian package that provides it."""


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


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - run by whatever python3 is installed
        sys.exit("typed_state needs Python 3.11 or newer")
    ensure_system_programs()
    if not PYTHON.exists():
        print(f"== creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    step("install", PYTHON, "-m", "pip", "install", "-q", "-e", ".[dev]")
    step("ruff", PYTHON, "-m", "ruff", "check", ".")
    step("ruff format", PYTHON, "-m", "ruff", "format", "--check", ".")
    step("mypy", PYTHON, "-m", "mypy")
    env_args = sys.argv[1:]
    print(f"\n== pytest {' '.join(env_args)}", flush=True)
    return subprocess.run(
        [str(PYTHON), "-m", "pytest", *env_args], cwd=ROOT, env={**os.environ}
    ).returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
