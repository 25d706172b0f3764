"""The shape of the package, checked: what each room may import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLAIN_PROCESS = """
import importlib, json, sys

importlib.import_module({module!r})
print(json.dumps(sorted(
    name for name in sys.modules
    if name.partition(".")[0] == "streamlit"
    or name in ("typed_state._config", "typed_state._streamlit", "typed_state._engine")
)))
"""

STORE_IN_A_PLAIN_PROCESS = """
from pydantic import BaseModel
from typed_state._backends._codec import codec_for
from typed_state._backends._sqlite import SQLiteBackend


class Settings(BaseModel):
    theme: str = "light"
    size: int = 12


codec = codec_for(Settings)
for value in ("dark", None):
    store = SQLiteBackend({url!r}, "plain")
    live = store.load("app.Settings", codec)
    if value is None:
        print(live)
    else:
        store.attach("app.Settings", Settings().model_dump(), codec)
        store.save("app.Settings", {{"theme": value}}, codec)
    store.close()
"""


@pytest.mark.parametrize(
    "module",
    [
        "typed_state._backends",
        "typed_state._backends._memory",
        "typed_state._backends._sqlite",
        "typed_state._backends._redis",
        "typed_state._backends._codec",
        "typed_state",  # the package alone: its public names load on first use
    ],
)
def test_a_store_imports_neither_streamlit_nor_the_configuration(module: str) -> None:
    """A store is usable from a plain Python process (a worker, a script, a new store's
    tests): it loads no Streamlit, no configuration and no re-run engine."""
    code = PLAIN_PROCESS.format(module=module)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert json.loads(out) == []


def test_a_store_works_in_a_plain_python_process(tmp_path: Path) -> None:
    code = PLAIN_PROCESS.format(module="typed_state._backends").replace(
        "print(json.dumps(", "(json.dumps("
    )
    code += textwrap.dedent(STORE_IN_A_PLAIN_PROCESS.format(url=f"sqlite:///{tmp_path}/s.db"))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "{'theme': 'dark', 'size': 12}"
    assert "streamlit" not in out


def test_a_state_is_named_in_one_place() -> None:
    """Identities were an f-string convention built and parsed in five modules, with
    the pseudo-fields "[keys]" and "[presence]" riding on field names: only _ids.py
    writes or reads a namespace now, and what a run reads is a typed topic."""
    from typed_state._ids import StateId, family_of, key_of, members_prefix

    member = StateId("app.Room", "r[1]")
    assert member.namespace == "app.Room[r[1]]"
    assert StateId.of(member.namespace) == member
    assert StateId.of("app.Room") == StateId("app.Room")
    assert family_of(member.namespace) == "app.Room"
    assert family_of("app.Room") is None
    assert key_of(member.namespace) == "r[1]"
    assert member.namespace.startswith(members_prefix("app.Room"))
    for path in (ROOT / "typed_state").rglob("*.py"):
        if path.name == "_ids.py":
            continue
        text = path.read_text()
        for pattern in ('"[keys]"', '"[presence', '+ "["', "}[{key}]"):
            assert pattern not in text, f"{path.name} builds or parses an identity: {pattern}"


def test_errors_name_the_state_field_and_key_in_the_same_attributes() -> None:
    """Error facts were named three ways (model, state, namespace)."""
    import threading

    from typed_state import FieldNameError, LockTimeoutError, SharedState

    class Ledger(SharedState):
        total: int = 0

    ledger = Ledger.get(key="q1")
    with pytest.raises(FieldNameError) as misspelt:
        ledger.totl = 1  # type: ignore[attr-defined]
    assert (misspelt.value.state, misspelt.value.field) == ("Ledger['q1']", "totl")
    assert misspelt.value.model == "Ledger['q1']"  # the first name still answers
    with pytest.raises(FieldNameError) as misread:
        _ = ledger.totl  # type: ignore[attr-defined]
    assert misread.value.state == "Ledger['q1']"
    with pytest.raises(FieldNameError) as unlocked:
        ledger.lock("totl")
    assert unlocked.value.state == "Ledger['q1']"
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with ledger.lock("total"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    try:
        with (
            pytest.raises(LockTimeoutError, match="timeout=") as late,
            ledger.lock("total", timeout=0),
        ):
            pass
    finally:
        release.set()
        holder.join(30)
    assert (late.value.state, late.value.field, late.value.fields) == (
        "Ledger['q1']",
        "total",
        ("total",),
    )


def test_the_docs_list_every_module() -> None:
    """ "How it fits together" names each module with its job: a new one is added there."""
    section = (ROOT / "docs" / "guide" / "internals.md").read_text()
    for path in sorted((ROOT / "typed_state").rglob("*.py")):
        assert f" {path.name} " in section, f"the docs' module list lacks {path.name}"


def test_a_store_opts_into_members_and_presence() -> None:
    """The interface every store implements is the core (load, write with fence and
    versions, append, locks, watch); families and presence across processes are
    capabilities a store opts into.  A store without the member index serves plain
    states and says clearly that families need another."""
    from typed_state import ConfigurationError, SharedState
    from typed_state._backends._base import Backend, MemberIndex, PresenceBoard
    from typed_state._backends._memory import MemoryBackend
    from typed_state._backends._redis import RedisBackend
    from typed_state._backends._sqlite import SQLiteBackend
    from typed_state._members import Family

    assert issubclass(MemoryBackend, MemberIndex)
    assert not issubclass(MemoryBackend, PresenceBoard)  # one process: nobody else
    for shared in (RedisBackend, SQLiteBackend):
        assert issubclass(shared, MemberIndex)
        assert issubclass(shared, PresenceBoard)

    # A store of the core alone: the memory store's core methods, nothing else.
    core = {name: getattr(MemoryBackend, name) for name in Backend.__abstractmethods__}
    CoreOnly = type("CoreOnly", (Backend,), {**core, "__init__": MemoryBackend.__init__})
    store = CoreOnly()
    assert not isinstance(store, MemberIndex)

    class Rooms(SharedState):
        topic: str = ""

    with pytest.raises(ConfigurationError, match=r"Rooms.get\(key=...\) needs a store"):
        Family(Rooms, "core://", store)
