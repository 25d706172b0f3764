"""Run the benchmarks: ``python3 benchmarks/run.py [--quick] [name ...]``.

Installs Debian's redis-server when missing and makes ``.venvs/<python>-bench`` with
the package and its ``dev`` and ``bench`` dependency groups from the tests' lock (as
``tests/run.py`` does), on the Python that runs it, then runs each benchmark on fresh servers,
prints its table, writes the run's figures to ``benchmarks/results/<date>.md`` (listed
in ``benchmarks/results/INDEX.md``) and, after a full run of all of them, quotes the new
figures in docs/performance.md (the README quotes the headline).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.run import LOCK, THIS_PYTHON, Set  # noqa: E402 - the repository's root is on the path first

BENCH = Set(THIS_PYTHON, LOCK, (), "bench")
VENV = BENCH.folder
NAMES = (
    "fanout",
    "rooms",
    "dashboard",
    "storm",
    "hotpath",
    "shared_fanout",
    "bigchat",
    "memory",
    "appends",
)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def bootstrap() -> None:
    """Re-run this script in its venv, with typed_state and streamlit-server-state
    installed from the tests' lock, on this Python."""
    from tests.run import ensure_system_programs, environment

    ensure_system_programs()  # redis-server, as for the tests
    python = environment(BENCH, "bench")
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def main(argv: list[str]) -> None:
    import importlib

    from benchmarks import _common
    from benchmarks._common import Results, update_docs

    quick = "--quick" in argv
    for arg in argv:
        # A part of a run: the results file names what was run; the docs are not updated.
        if arg.startswith("--configs="):
            kept = {_common.CONFIG_NAMES[name] for name in arg.split("=", 1)[1].split(",")}
            for config in [c for c in _common.CONFIGS if c not in kept]:
                del _common.CONFIGS[config]
        elif arg.startswith("--sizes="):
            _common.SIZES = tuple(int(n) for n in arg.split("=", 1)[1].split(","))
    partial = any(a.startswith(("--configs=", "--sizes=")) for a in argv)
    names = [a for a in argv if not a.startswith("--")] or list(NAMES)
    unknown = set(names) - set(NAMES)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; choose from {NAMES}")
    started = time.monotonic()
    results = Results(quick=quick)
    section = results.header
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n== {name}{' (quick)' if quick else ''}", flush=True)
        text = asyncio.run(module.run(quick)).markdown()
        print(text, flush=True)
        results.add(text)
        section += text + "\n"
    took = f"The whole run took {time.monotonic() - started:.0f} s.\n"
    results.add(took)
    results.index(names)
    print(f"written to {results.path}")
    if not quick and not partial and names == list(NAMES):
        update_docs(section + took)
        print("quoted in docs/performance.md")


if __name__ == "__main__":
    if not in_venv():
        bootstrap()
    main(sys.argv[1:])
