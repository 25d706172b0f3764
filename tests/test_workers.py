"""Writers outside Streamlit: a plain Python process (a nightly job, a worker feeding a
dashboard) that imports the app's state module and shares its store writes, and the
app's sessions are pushed.  What must match: the class's module, the app name
(TYPED_STATE_APP) and the store URL; where they cannot, the process says so."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.harness import StreamlitClient, StreamlitServer
from tests.stores import Store

APPS = Path(__file__).parent / "apps"

WRITER = """
from server_states import Counter

counter = Counter.get()
with counter.lock("count"):
    counter.count += 1
print("wrote", counter.count)
"""


@pytest.mark.server
async def test_a_plain_process_writes_and_the_apps_sessions_are_pushed(
    store: Store, tmp_path: Path
) -> None:
    env = {"TYPED_STATE_URL": store.url, "TYPED_STATE_APP": "shop"}
    with StreamlitServer(APPS / "freeze_page.py", env=env, log=tmp_path / "app.log") as app:
        reader = await StreamlitClient(app.ws_url).connect()
        assert "count=0" in reader.texts()
        done = subprocess.run(
            [sys.executable, "-c", WRITER],
            env={**os.environ, **env, "PYTHONPATH": str(APPS)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["wrote", "1"]
        assert "typed_state:" not in done.stderr  # nothing to warn about
        await reader.wait_for_text("count=1")
        assert reader.runs[-1].pushed
        await reader.close()


def test_a_process_that_cannot_reach_the_apps_state_says_why(store: Store, tmp_path: Path) -> None:
    """A class defined in the script itself, or a process without the app's name,
    wrote silently where no page reads."""
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """
            from typed_state import SharedState

            class Counter(SharedState):
                count: int = 0

            Counter.get().count = 5
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "TYPED_STATE_APP"}

    def job(**more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script)],
            env={**env, "TYPED_STATE_URL": store.url, **more},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )

    unnamed = job()
    assert unnamed.returncode != 0  # refused: nothing written anywhere
    assert "ConfigurationError: typed_state needs this app's name" in unnamed.stderr
    named = job(TYPED_STATE_APP="shop")
    assert named.returncode == 0, named.stderr
    assert named.stderr.count("Counter is defined in the script this process runs") == 1
    assert "import the class from the module the app imports" in named.stderr
