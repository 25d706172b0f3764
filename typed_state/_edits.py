"""A state class whose module was edited on disk after this process imported it.

Streamlit drops an edited module only when an existing session runs again: a page
reloaded in the browser (a new session) still gets the class imported before the
edit, and the developer wonders why the edit does nothing.  At ``get()`` in a server,
at most once a second per module, the module's file is compared with the time it was
imported; an edit is said once in the page, with what to do.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from typed_state import _streamlit

if TYPE_CHECKING:
    from pydantic import BaseModel

_INTERVAL = 1.0
"""Seconds between two looks at one module's file."""

_LOCK = threading.Lock()
_IMPORTED: dict[str, tuple[str, int]] = {}
"""Module name -> its file and that file's modification time when a class of it was
defined (the import)."""
_LOOKED: dict[str, float] = {}
_SAID: set[tuple[str, int]] = set()


def defined(cls: type[BaseModel]) -> None:
    """Note the file a state class comes from, as it is when the class is defined."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if module is None or path is None or cls.__module__ == "__main__":
        return  # a page script: Streamlit runs its newest version every run
    with contextlib.suppress(OSError):  # no file to compare with later
        _IMPORTED[cls.__module__] = (path, os.stat(path).st_mtime_ns)


def check(cls: type[BaseModel]) -> None:
    """Say once in the page when the module of ``cls`` changed on disk since its import."""
    name = cls.__module__
    now = time.monotonic()
    if name not in _IMPORTED or now - _LOOKED.get(name, -_INTERVAL) < _INTERVAL:
        return
    _LOOKED[name] = now
    path, imported = _IMPORTED[name]
    try:
        changed = os.stat(path).st_mtime_ns
    except OSError:
        return
    with _LOCK:
        if changed == imported or (name, changed) in _SAID:
            return
        _SAID.add((name, changed))
    _streamlit.warn_in_page(
        f"typed_state: {name} ({os.path.basename(path)}) changed on disk after this server "
        f"imported it, so {cls.__name__} is still the class from before the edit. "
        "Streamlit loads an edited module again when a session re-runs: press Rerun "
        "(R), or turn on runOnSave, rather than reloading the page."
    )
