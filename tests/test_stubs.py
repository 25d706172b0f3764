"""The Streamlit internals typed_state uses still exist in the installed Streamlit.

``stubs/streamlit-stubs`` declares exactly the private surface that
``typed_state/_streamlit.py`` touches.  mypy checks our code against those stubs;
these tests check the stubs against the installed Streamlit, so that a Streamlit
release that moves or renames one of them fails here, with the name, instead of
in users' apps.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import streamlit

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "stubs" / "streamlit-stubs"
ALLOWLIST = ROOT / "stubs" / "stubtest-allowlist.txt"
UPGRADE_HINT = (
    "Streamlit {version} moved or changed an internal typed_state relies on. "
    "Fix typed_state/_streamlit.py (the only module that touches Streamlit's internals) "
    "and its stubs in stubs/streamlit-stubs/, then this test."
)


_CTX = "streamlit.runtime.scriptrunner_utils.script_run_context"
_SESSION = "streamlit.runtime.app_session.AppSession"
ALTERNATIVES: list[tuple[list[str], list[str]]] = [
    # (names a release may lack, what typed_state/_streamlit.py uses without them)
    (
        [f"{_CTX}.ThreadState", f"{_CTX}.FragmentThreadState"],  # since 1.58
        [f"{_CTX}.ScriptRunContext.current_fragment_id"],  # until 1.57
    ),
    (
        [f"{_CTX}.ScriptRunContext.has_script_started"],
        [f"{_CTX}.ScriptRunContext._has_script_started"],
    ),
    (
        [f"{_SESSION}.track_settling", f"{_SESSION}.is_settled"],  # since 1.67
        [f"{_SESSION}._scriptrunner", f"{_SESSION}._browser_queue"],
    ),
    ([f"{_SESSION}.has_fragment"], [f"{_SESSION}._fragment_storage"]),
    (
        ["streamlit.runtime.runtime.Runtime.get_app_session"],
        ["streamlit.runtime.runtime.Runtime._session_mgr"],
    ),
]
"""Where Streamlit releases differ within the supported window (1.50 to the newest)."""


def exists(name: str) -> bool:
    """Whether the installed Streamlit has ``name`` (a module's class, or its attribute)."""
    module_name, *parts = _split(name)
    target: object = importlib.import_module(module_name)
    for part in parts:
        if hasattr(target, part):
            target = getattr(target, part)
        elif isinstance(target, type):
            # An attribute set per instance: a dataclass field or assigned in a method.
            fields = (
                {f.name for f in dataclasses.fields(target)}
                if dataclasses.is_dataclass(target)
                else set()
            )
            return part in fields or part in assigned_on_self(target)
        else:
            return False
    return True


def _split(name: str) -> list[str]:
    """``module.path.Class.attr`` -> [module.path, Class, attr] (the longest importable module)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return [".".join(parts[:cut]), *parts[cut:]]
    raise ImportError(name)


def missing_here() -> list[str]:
    """The names of ALTERNATIVES that the installed Streamlit lacks."""
    return [name for pair in ALTERNATIVES for side in pair for name in side if not exists(name)]


def test_each_internal_or_its_fallback_exists() -> None:
    """On every release of the window, one side of each alternative is there in full."""
    broken = [
        pair
        for pair in ALTERNATIVES
        if not any(all(exists(name) for name in side) for side in pair)
    ]
    hint = UPGRADE_HINT.format(version=streamlit.__version__)
    assert not broken, f"{hint}\n\nneither side is there: {broken}"


def test_streamlit_py_detects_what_this_release_lacks() -> None:
    """``_streamlit.FALLBACKS`` is empty exactly where nothing needs a fallback."""
    from typed_state import _streamlit

    lacking_newer = [pair for pair in ALTERNATIVES if not all(exists(n) for n in pair[0])]
    assert len(_streamlit.FALLBACKS) == len(lacking_newer), _streamlit.FALLBACKS


def stubbed_modules() -> list[str]:
    return sorted(
        "streamlit." + ".".join(path.relative_to(STUBS).with_suffix("").parts)
        for path in STUBS.rglob("*.pyi")
    )


def test_stubs_cover_the_modules_typed_state_imports() -> None:
    source = (ROOT / "typed_state" / "_streamlit.py").read_text()
    stubbed = set(stubbed_modules())
    imported = {
        f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in stubbed else node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith(("streamlit.runtime", "streamlit.elements"))
        for alias in node.names
    }
    assert imported == stubbed


@pytest.mark.timeout(600)  # 53 s alone; a loaded CI machine needs margin
def test_stubtest_finds_the_stubs_consistent_with_installed_streamlit(tmp_path: Path) -> None:
    # The names this release lacks and has a fallback for are allowed missing;
    # every other name, and the signature of each one present, is checked.
    allowed = tmp_path / "allowlist.txt"
    allowed.write_text(
        ALLOWLIST.read_text() + "".join(re.escape(name) + "\n" for name in missing_here())
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "--ignore-missing-stub",
            "--ignore-unused-allowlist",
            "--allowlist",
            str(allowed),
            *stubbed_modules(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    hint = UPGRADE_HINT.format(version=streamlit.__version__)
    assert result.returncode == 0, f"{hint}\n\nstubtest said:\n{result.stdout}{result.stderr}"


def declared_attributes() -> list[tuple[str, str, str]]:
    """(module, class, attribute) for every attribute annotated in a stub class."""
    found = []
    for module in stubbed_modules():
        path = STUBS.joinpath(*module.split(".")[1:]).with_suffix(".pyi")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        found.append((module, node.name, item.target.id))
    return found


def assigned_on_self(cls: type) -> set[str]:
    """Names a class's own methods assign as ``self.<name> = ...``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }


def test_instance_attributes_in_the_stubs_exist() -> None:
    """What stubtest cannot see: attributes set per instance (dataclass fields, __init__)."""
    missing = []
    optional = set(missing_here())
    for module, class_name, attribute in declared_attributes():
        if {f"{module}.{class_name}", f"{module}.{class_name}.{attribute}"} & optional:
            continue
        cls = getattr(importlib.import_module(module), class_name)
        fields: set[str] = set()
        if dataclasses.is_dataclass(cls):
            fields = {f.name for f in dataclasses.fields(cls)}
        if hasattr(cls, attribute) or attribute in fields:
            continue
        if attribute not in assigned_on_self(cls):
            missing.append(f"{module}.{class_name}.{attribute}")
    hint = UPGRADE_HINT.format(version=streamlit.__version__)
    assert not missing, f"{hint}\n\nno longer set by Streamlit: {', '.join(missing)}"
