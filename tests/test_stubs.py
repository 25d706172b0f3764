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
import subprocess
import sys
import textwrap
from pathlib import Path

import streamlit

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "stubs" / "streamlit-stubs"
ALLOWLIST = ROOT / "stubs" / "stubtest-allowlist.txt"
UPGRADE_HINT = (
    "Streamlit {version} moved or changed an internal typed_state relies on. "
    "Fix typed_state/_streamlit.py (the only module that touches Streamlit's internals) "
    "and its stubs in stubs/streamlit-stubs/, then this test."
)


def stubbed_modules() -> list[str]:
    return sorted(
        "streamlit." + ".".join(path.relative_to(STUBS).with_suffix("").parts)
        for path in STUBS.rglob("*.pyi")
    )


def test_stubs_cover_the_modules_typed_state_imports() -> None:
    source = (ROOT / "typed_state" / "_streamlit.py").read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit.runtime")
    }
    assert imported == set(stubbed_modules())


def test_stubtest_finds_the_stubs_consistent_with_installed_streamlit() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "--ignore-missing-stub",
            "--ignore-unused-allowlist",
            "--allowlist",
            str(ALLOWLIST),
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
    for module, class_name, attribute in declared_attributes():
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
