"""Set up everything the test suite needs on a fresh machine, then run it.

With no arguments, the whole suite as CI runs it (``.ci/run``):

1. Debian's ``chromium``, ``redis-server`` and ``postgresql`` when missing (as root, or
   through sudo);
2. ruff and mypy, in the newest set;
3. the newest set on the newest Python (3.13): every test, the docs site's strict build
   and its code blocks included (``tests/test_docs.py``);
4. the oldest set on the oldest Python (3.11): Streamlit 1.50, pydantic 2.11, redis-py
   5.0.1, psycopg 3.2.1 and mypy 1.19 (the floors in ``pyproject.toml``), every test but
   the browser's, the fault properties (release-free, minutes long), the real-server
   scenarios on a shared store (those on memory run), the typing matrix of selectors
   and the no-plugin check (the plugin's run stays), the docs and, of PostgreSQL's, all
   but its own;
5. the newest set on the Python in between (3.12): the fast tests (no server, no child
   processes) and the README's first page on a real server.

Each set lives in a virtual environment of its own, ``.venvs/<python>[-<set>]``, made
by uv with that interpreter and filled from a committed lock, so a release of any tool
cannot turn a fresh clone red.  The interpreters are the machine's (on PATH, or under
pyenv), else uv-managed ones (``uv python install``).  Only Python 3.11+ is needed
beforehand.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "tests" / "requirements.lock"
OLDEST_LOCK = ROOT / "tests" / "requirements-oldest.lock"
VENVS = ROOT / ".venvs"
PYTHONS = ("3.11", "3.12", "3.13")
"""The Pythons the package claims (pyproject's classifiers), oldest first."""

FLOORS = [
    "streamlit==1.50.0",
    "pydantic==2.11.0",
    "redis==5.0.1",
    "psycopg[binary]==3.2.1",
    "mypy==1.19.0",
]
"""The oldest releases the package supports (``pyproject.toml``'s floors)."""

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

SYSTEM_PROGRAMS = {
    "chromium": "chromium",
    "redis-server": "redis-server",
    "/usr/lib/postgresql/*/bin/initdb": "postgresql",
}
"""Program the tests run (a name on PATH, or a path pattern) -> the Debian package that
provides it."""


@dataclass(frozen=True)
class Set:
    """One environment the suite runs in, and what runs there."""

    python: str
    lock: Path | None
    """Pins for every package; None: the newest release of each (``--newest``)."""
    selection: tuple[str, ...]
    """pytest arguments choosing the tests that run in a whole-suite run."""
    label: str = ""

    @property
    def folder(self) -> Path:
        return VENVS / (f"{self.python}-{self.label}" if self.label else self.python)

    def describe(self) -> str:
        what = {"": "newest set", "oldest": "oldest set", "newest": "newest releases"}
        return f"{what.get(self.label, self.label)} on Python {self.python}"


NEWEST = Set(PYTHONS[-1], LOCK, ())
_SLOW_AND_RELEASE_FREE = ("tests/test_faults.py", "tests/test_properties.py")
"""Hypothesis programs of the stores' own logic under faults: the same on every release
of Streamlit and pydantic, and minutes long; the newest set runs them."""

OLDEST = Set(
    PYTHONS[0],
    OLDEST_LOCK,
    # The browser runs the demo as the newest set does; nothing in it depends on a release.
    # The servers' scenarios run on memory: what a store adds is the same on every
    # Streamlit.  PostgreSQL: the floor of psycopg under the store's own tests (the
    # server killed, not also stopped).  Typing: the mypy plugin on the floor of mypy;
    # the selector matrix (which runs basedpyright, no floor) is the newest set's.
    (
        *("-m", "not browser"),
        *(
            "-k",
            "(not postgres or test_postgres) and not (test_server and (redis or sqlite))"
            " and not (restarted_under_writes and not kill)"
            " and not test_every_checker and not test_attribute_checks_need_no_plugin",
        ),
        # The docs' blocks run and type-check in the newest set (basedpyright has no floor).
        *(arg for f in (*_SLOW_AND_RELEASE_FREE, "tests/test_docs.py") for arg in ("--ignore", f)),
    ),
    "oldest",
)
BETWEEN = Set(
    PYTHONS[1],
    LOCK,
    # What needs no `streamlit run` server, browser, store server or child processes, and
    # the README's first page on a real server: the fast tests.
    (
        *("-m", "(smoke or not server) and not browser and not redis and not postgres"),
        *("-k", "not redis and not postgres"),
        *(
            arg
            for f in (
                *_SLOW_AND_RELEASE_FREE,
                "tests/test_deploys.py",
                "tests/test_typing.py",
                "tests/test_docs.py",
            )
            for arg in ("--ignore", f)
        ),
    ),
)
DRIFT = Set(PYTHONS[-1], None, (), "newest")


def step(title: str, *command: str | Path) -> None:
    print(f"\n== {title}: {' '.join(map(str, command))}", flush=True)
    subprocess.run([str(c) for c in command], cwd=ROOT, check=True)


def _installed(program: str) -> bool:
    if program.startswith("/"):
        return any(Path("/").glob(program[1:]))
    return shutil.which(program) is not None


def ensure_system_programs() -> None:
    missing = sorted({pkg for prog, pkg in SYSTEM_PROGRAMS.items() if not _installed(prog)})
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


def uv() -> Path:
    """uv, at the release the lock pins, in a venv of its own made by this Python."""
    tools = VENVS / "tools"
    program = tools / "bin" / "uv"
    if not program.exists():
        print(f"== creating {tools}", flush=True)
        venv.create(tools, with_pip=True, clear=True)
        pins = [line.split(";")[0].strip() for line in LOCK.read_text().splitlines()]
        wanted = next((p for p in pins if p.startswith("uv==")), "uv")
        step("install uv", tools / "bin" / "python", "-m", "pip", "install", "-q", wanted)
    return program


def _version_of(python: str | Path) -> str | None:
    """``X.Y`` of the interpreter ``python``, or None if it does not run (a pyenv shim
    for a version that is not selected, say)."""
    try:
        done = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_python(version: str) -> Path:
    """An interpreter of Python ``version``: this one, one on PATH, pyenv's, or uv's."""
    if version == THIS_PYTHON:
        return Path(sys.executable)
    candidates: list[str | Path | None] = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    releases = [
        path
        for path in pyenv.glob(f"{version}.*")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", path.name)
    ]
    releases.sort(key=lambda path: int(path.name.rsplit(".", 1)[1]), reverse=True)
    candidates += [path / "bin" / f"python{version}" for path in releases]
    for candidate in candidates:
        if candidate is not None and _version_of(candidate) == version:
            return Path(candidate)
    found = _uv_python(version)
    if found is None:
        sys.exit(
            f"no Python {version} here: none on PATH, under pyenv, or from `uv python "
            f"install {version}`; install one (pyenv install {version}, or your system's "
            "package) and run again"
        )
    return found


def _uv_python(version: str) -> Path | None:
    """A uv-managed Python ``version``, installed when missing (needs the network)."""
    program = str(uv())
    for attempt in ("find", "install"):
        if attempt == "install":
            print(f"== uv python install {version}", flush=True)
            if subprocess.run([program, "python", "install", version]).returncode:
                return None
        done = subprocess.run(
            [program, "python", "find", "--managed-python", version],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    return None


def environment(chosen: Set, *groups: str) -> Path:
    """The venv of ``chosen``, with the package (editable) and the ``dev`` group (and
    ``groups``) installed from its lock; made anew when its Python is not the one wanted."""
    python = chosen.folder / "bin" / "python"
    if _version_of(python) != chosen.python:
        interpreter = find_python(chosen.python)
        create = ("venv", "-q", "--clear", "-p", interpreter, chosen.folder)
        step(f"create {chosen.folder}", uv(), *create)
    pins = ["-c", chosen.lock] if chosen.lock is not None else ["--upgrade"]
    extra = [arg for group in groups for arg in ("--group", group)]
    step(
        f"install into {chosen.folder.name} ({chosen.describe()})",
        uv(),
        *("pip", "install", "-q", "-p", python, *pins, "-e", ".", "--group", "dev", *extra),
    )
    return python


def pytest(chosen: Set, python: Path, *args: str) -> bool:
    """Run pytest; whether it passed."""
    print(f"\n== pytest ({chosen.describe()}) {' '.join(args)}", flush=True)
    return subprocess.run([str(python), "-m", "pytest", *args], cwd=ROOT).returncode == 0


def lint(python: Path) -> None:
    step("ruff", python, "-m", "ruff", "check", ".")
    step("ruff format", python, "-m", "ruff", "format", "--check", ".")
    step("mypy", python, "-m", "mypy")


def write_locks() -> None:
    """Resolve the newest set and the oldest set again, for Python 3.11 to 3.13."""
    compile_ = [uv(), "pip", "compile", "pyproject.toml", "--universal", "--no-header", "-q"]
    compile_ += ["--python-version", PYTHONS[0], "--group", "dev"]
    step("lock the newest set", *compile_, "--group", "bench", "--group", "docs", "-o", LOCK)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("\n".join(FLOORS) + "\n")
    try:
        step("lock the oldest set", *compile_, "-c", pins.name, "-o", OLDEST_LOCK)
    finally:
        os.unlink(pins.name)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python3 tests/run.py",
        description=__doc__,
        epilog=(
            "Any other argument goes to pytest, and then only pytest runs with it "
            "(after ruff and mypy), in one set: the newest set on Python 3.13 unless "
            "--python, --oldest or --newest says otherwise. Examples: "
            "`python3 tests/run.py tests/test_model.py -x`, "
            "`python3 tests/run.py --python 3.12 -m 'not server'`, "
            "`python3 tests/run.py --oldest tests/test_redis.py`."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--python",
        choices=PYTHONS,
        help="the Python to run the newest set on (default: the newest, 3.13)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--oldest",
        action="store_true",
        help="the oldest set (the floors: " + ", ".join(FLOORS) + f") on Python {PYTHONS[0]}",
    )
    which.add_argument(
        "--newest",
        action="store_true",
        help="the newest release of every package, no lock: meet drift on purpose",
    )
    parser.add_argument(
        "--lock", action="store_true", help="write both lock files anew with uv, then run"
    )
    return parser.parse_known_args(argv)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - run by whatever python3 is installed
        sys.exit("typed_state needs Python 3.11 or newer")
    options, pytest_args = parse(argv)
    ensure_system_programs()
    if options.lock:
        write_locks()
    if options.oldest:
        chosen = OLDEST
    elif options.newest:
        chosen = DRIFT
    else:
        chosen = Set(options.python or NEWEST.python, LOCK, ())
    # The docs tools build the site in the sets on the newest lock (not the floors').
    python = environment(chosen, *(() if chosen.lock == OLDEST_LOCK else ("docs",)))
    lint(environment(NEWEST, "docs") if chosen is OLDEST else python)  # the floors' mypy is older
    if pytest_args or options.python or options.oldest or options.newest:
        return 0 if pytest(chosen, python, *pytest_args) else 1
    # The slowest tests of each set, printed: what to look at when CI grows long.
    slowest = "--durations=12"
    results = {NEWEST.describe(): pytest(NEWEST, python, slowest)}
    for other in (OLDEST, BETWEEN):
        results[other.describe()] = pytest(other, environment(other), *other.selection, slowest)
    print("\n== " + "; ".join(f"{k}: {'passed' if v else 'FAILED'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
