"""Drive real Streamlit servers: start them, and talk to them like a browser."""

from tests.harness.client import Run, StreamlitClient
from tests.harness.server import StreamlitServer

__all__ = ["Run", "StreamlitClient", "StreamlitServer"]
