"""Run the benchmarks: ``python3 benchmarks/run.py [--quick] [name ...]``.

Installs Debian's redis-server when missing and creates ``.venv`` with the
package and its ``dev`` and ``bench`` extras when needed (as ``tests/run.py``
does), then runs each benchmark on fresh servers,
prints its table, appends the figures to ``benchmarks/results.md`` and, after a
full run of all of them, quotes the new figures in README.md.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
NAMES = ("fanout", "rooms", "dashboard", "storm", "hotpath", "shared_fanout", "bigchat")


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def bootstrap() -> None:
    """Re-run this script in .venv, with typed_state and streamlit-server-state installed."""
    sys.path.insert(0, str(ROOT))
    from tests.run import ensure_system_programs

    ensure_system_programs()  # redis-server, as for the tests
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", ".[dev,bench]"], cwd=ROOT, check=True
    )
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def main(argv: list[str]) -> None:
    import importlib

    from benchmarks._common import append_results, results_header, update_readme

    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or list(NAMES)
    unknown = set(names) - set(NAMES)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; choose from {NAMES}")
    started = time.monotonic()
    section = results_header(quick=quick)
    append_results(section)
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n== {name}{' (quick)' if quick else ''}", flush=True)
        text = asyncio.run(module.run(quick)).markdown()
        print(text, flush=True)
        append_results(text)
        section += text + "\n"
    took = f"The whole run took {time.monotonic() - started:.0f} s.\n"
    append_results(took)
    print(f"appended to {ROOT / 'benchmarks' / 'results.md'}")
    if not quick and names == list(NAMES):
        update_readme(section + took)
        print("quoted in README.md")


if __name__ == "__main__":
    if not in_venv():
        bootstrap()
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
