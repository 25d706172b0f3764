"""Start and stop a real ``streamlit run`` server on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from tests.waits import wait_until

if TYPE_CHECKING:
    from types import TracebackType


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamlitServer:
    """A ``streamlit run APP --server.headless true`` process on 127.0.0.1."""

    def __init__(
        self,
        app: str | Path,
        *,
        options: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.app = Path(app)
        self.port = free_port()
        self.options = {
            "server.headless": "true",
            "server.port": str(self.port),
            "server.address": "127.0.0.1",
            "browser.gatherUsageStats": "false",
            "server.fileWatcherType": "none",
            "global.developmentMode": "false",
            **(options or {}),
        }
        self.env = env or {}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/_stcore/stream"

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        args = [sys.executable, "-m", "streamlit", "run", str(self.app)]
        for name, value in self.options.items():
            args.append(f"--{name}={value}")
        env = {**os.environ, **self.env}
        env.setdefault("PYTHONUNBUFFERED", "1")
        output = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
        process = self.process

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {process.returncode} before serving"
                    + (f"; see {self.log}" if self.log else "")
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        try:
            wait_until(healthy, timeout)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"streamlit did not become healthy in {timeout} s") from None
        return self

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
