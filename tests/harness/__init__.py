"""Drive real Streamlit servers: start them, and talk to them like a browser."""

import streamlit

from tests.harness.client import Run, StreamlitClient
from tests.harness.server import StreamlitServer

RELEASE: tuple[int, int] = tuple(int(part) for part in streamlit.__version__.split(".")[:2])  # type: ignore[assignment]
"""The installed Streamlit's (major, minor): for the few tests that meet a difference of
Streamlit's own between releases (each says which)."""

__all__ = ["RELEASE", "Run", "StreamlitClient", "StreamlitServer"]
