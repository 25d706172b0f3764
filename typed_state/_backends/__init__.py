"""Stores behind the shared states: one small interface, one module per store.

A store imports neither Streamlit nor the app's configuration: it is given its URL,
app name and lease, and works in any Python process (see ``_open.py`` for the
process-wide stores the states use).
"""

from __future__ import annotations

from typed_state._backends._base import Backend, FieldLock, safe_url

__all__ = ["Backend", "FieldLock", "safe_url"]
