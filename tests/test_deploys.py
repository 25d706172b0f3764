"""A deploy that edits a state class loses no stored value.

Two definitions of one class (same module path, different code) run as separate
processes on one store, as during a deploy or a rolling deploy: v1 wrote, v2 reads
and writes, v1 still runs.  Each case failed before (see issue 36): v2 could not
migrate v1's data with Pydantic's own tools, and v1 wrote over v2's data from the
default it showed in place of a value it could not read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.stores import RedisStore, Store
from typed_state import ConfigurationError, SharedState, StoredValueWarning, testing
from typed_state._backends._codec import codec_for
from typed_state._config import settings

ROOT = Path(__file__).resolve().parent.parent

PREAMBLE = """
import json, sys, warnings
from typing import Any
from pydantic import AliasChoices, BaseModel, Field, field_validator
from typed_state import SharedState
"""

RUNNER = """
import json, traceback, warnings
from deployed import *

seen = []
def saw(message, category, *args, **kwargs):
    seen.append(category.__name__)
warnings.showwarning = saw
warnings.simplefilter("always")

def run():
{body}

try:
    result = run()
except Exception as exc:
    result = {{"error": type(exc).__name__, "message": str(exc)}}
print(json.dumps({{"result": result, "warnings": seen}}, default=str))
"""


class Deploy:
    """Versions of the module ``deployed`` (one class ``S``), each run as its own process."""

    def __init__(self, store: Store, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path

    def version(self, name: str, source: str) -> str:
        folder = self.tmp_path / name
        folder.mkdir()
        (folder / "deployed.py").write_text(PREAMBLE + textwrap.dedent(source))
        return name

    def run(self, version: str, body: str) -> tuple[Any, list[str]]:
        """Run ``body`` (a function body returning JSON-able data) in a fresh process of
        ``version``; what it returned (or the error it raised) and the warnings seen."""
        code = RUNNER.format(body=textwrap.indent(textwrap.dedent(body), "    "))
        env = {
            **os.environ,
            "TYPED_STATE_URL": self.store.url,
            "TYPED_STATE_APP": "tests",
            "PYTHONPATH": os.pathsep.join([str(self.tmp_path / version), str(ROOT)]),
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=self.tmp_path,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return out["result"], out["warnings"]


@pytest.fixture
def deploy(store: Store, tmp_path: Path) -> Deploy:
    return Deploy(store, tmp_path)


SQLITE_AND_REDIS = pytest.mark.parametrize(
    "store", [pytest.param("redis", marks=pytest.mark.redis), "sqlite"], indirect=True
)
"""What a deploy changes is read through the class, the same on every store; PostgreSQL
reads with SQLite's statements (its reads are tested in tests/test_shared.py)."""


STRINGS = """
class S(SharedState):
    tags: list[str] = []
"""

TAGS = """
class Tag(BaseModel):
    name: str

class S(SharedState):
    tags: list[Tag] = []

    @field_validator("tags", mode="before")
    @classmethod
    def _from_strings(cls, value: Any) -> Any:
        # v1 stored plain strings: read them as tags
        return [{"name": v} if isinstance(v, str) else v for v in value]
"""


@SQLITE_AND_REDIS
def test_a_before_validator_migrates_stored_items_and_an_append_keeps_them(
    deploy: Deploy,
) -> None:
    """v2 read [] (stored values skipped its before-validator), then its append stored
    [z]: v1's two items were gone for every version."""
    v1 = deploy.version("v1", STRINGS)
    v2 = deploy.version("v2", TAGS)
    assert deploy.run(v1, 'S.get().append("tags", "a", "b")') == (None, [])
    names, warned = deploy.run(
        v2,
        """
        s = S.get()
        before = [t.name for t in s.tags]
        s.append("tags", Tag(name="z"))
        return before, [t.name for t in s.tags]
        """,
    )
    assert names == [["a", "b"], ["a", "b", "z"]]
    assert warned == []
    assert deploy.run(v2, "return [t.name for t in S.get().tags]")[0] == ["a", "b", "z"]


@SQLITE_AND_REDIS
def test_an_older_definition_cannot_mix_its_items_into_a_newer_one(deploy: Deploy) -> None:
    """v1 kept appending strings to a list v2 stores tags in: no version could read it."""
    v1 = deploy.version("v1", STRINGS)
    v2 = deploy.version("v2", TAGS)
    deploy.run(v1, 'S.get().append("tags", "a")')
    deploy.run(v2, 'S.get().append("tags", Tag(name="z"))')
    refused, warned = deploy.run(v1, 'S.get().append("tags", "x")')
    assert refused["error"] == "StoredValueError"
    assert 'S.tags was refused: the store holds [{"name":"a"},{"name":"z"}]' in refused["message"]
    assert "StoredValueWarning" in warned  # and it showed [] with a warning
    mutated, _ = deploy.run(
        v1,
        """
        with S.get().mutate("tags") as tags:
            tags.append("x")
        """,
    )
    assert mutated["error"] == "StoredValueError"
    assert deploy.run(v2, "return [t.name for t in S.get().tags]")[0] == ["a", "z"]


INT_LEVEL = """
class S(SharedState):
    level: int = 3
"""

FLOAT_LEVEL = """
class S(SharedState):
    level: float = 3.0
"""


@SQLITE_AND_REDIS
def test_an_older_definition_never_writes_over_a_value_it_cannot_read(deploy: Deploy) -> None:
    """v1 read v2's 4.5 as its default 3, and its locked += 1 stored 4 over it."""
    v1 = deploy.version("v1", INT_LEVEL)
    v2 = deploy.version("v2", FLOAT_LEVEL)
    deploy.run(v2, "S.get().level = 4.5")
    refused, warned = deploy.run(
        v1,
        """
        s = S.get()
        with s.lock("level"):
            s.level += 1
        """,
    )
    assert refused["error"] == "StoredValueError"
    assert "S.level was refused: the store holds 4.5" in refused["message"]
    assert "StoredValueWarning" in warned
    stale, _ = deploy.run(
        v1,
        """
        s = S.get()
        s.update(level=5, if_versions={"level": s.version("level")})
        """,
    )
    assert stale["error"] == "StoredValueError"  # a conditional write builds on what it read
    assert deploy.run(v2, "return S.get().level")[0] == 4.5


@SQLITE_AND_REDIS
def test_a_plain_assignment_overwrites_an_unreadable_value_on_purpose(deploy: Deploy) -> None:
    """Even with the very value shown in its place (the default): an equal value was
    taken for no change, and nothing was stored."""
    v1 = deploy.version("v1", INT_LEVEL)
    v2 = deploy.version("v2", FLOAT_LEVEL)
    deploy.run(v2, "S.get().level = 4.5")
    assert deploy.run(v1, "S.get().level = 3")[0] is None
    assert deploy.run(v2, "return S.get().level")[0] == 3.0


RULED = """
class S(SharedState):
    qty: int = 0

    @field_validator("qty")
    @classmethod
    def _at_most_five(cls, value: int) -> int:
        if value > 5:
            raise ValueError("at most 5")
        return value
"""


@SQLITE_AND_REDIS
@pytest.mark.parametrize(
    "rule",
    [RULED, "class S(SharedState):\n    qty: int = Field(0, le=5)\n"],
    ids=["validator", "le"],
)
def test_a_new_rule_applies_to_stored_values(deploy: Deploy, rule: str) -> None:
    """v2's new field validator was skipped on the stored 10: served to v2 as valid."""
    v1 = deploy.version("v1", "class S(SharedState):\n    qty: int = 0\n")
    v2 = deploy.version("v2", rule)
    deploy.run(v1, "S.get().qty = 10")
    qty, warned = deploy.run(v2, "return S.get().qty")
    assert qty == 0
    assert warned == ["StoredValueWarning"]
    assert deploy.run(v1, "return S.get().qty")[0] == 10  # kept stored


LIST_MESSAGES = """
class Message(BaseModel):
    text: str

class S(SharedState):
    messages: list[Message] = []
"""

LOG_MESSAGES = """
from typed_state import Log

class Message(BaseModel):
    text: str

class S(SharedState):
    messages: Log[Message] = Log()
"""


@SQLITE_AND_REDIS
def test_a_list_field_becomes_a_log_and_both_versions_append_to_it(deploy: Deploy) -> None:
    """A Log is stored as a list: v1 (list) and v2 (Log) read and append to the same items
    during the rolling deploy, and each reads them as its own type."""
    v1 = deploy.version("v1", LIST_MESSAGES)
    v2 = deploy.version("v2", LOG_MESSAGES)
    deploy.run(v1, 'S.get().append("messages", Message(text="a"), Message(text="b"))')
    read, warned = deploy.run(
        v2,
        """
        s = S.get()
        s.append("messages", Message(text="c"), keep_last=3)
        return type(s.messages).__name__, [m.text for m in s.messages]
        """,
    )
    assert (read, warned) == (["Log", ["a", "b", "c"]], [])
    deploy.run(v1, 'S.get().append("messages", Message(text="d"), keep_last=3)')
    assert deploy.run(v1, "return [m.text for m in S.get().messages]") == (["b", "c", "d"], [])
    assert deploy.run(v2, "return [m.text for m in S.get().messages]") == (["b", "c", "d"], [])
    deploy.run(v2, 'S.get().messages = Log([Message(text="whole")])')  # JSON again
    assert deploy.run(v1, "return [m.text for m in S.get().messages]")[0] == ["whole"]


OLD_NAME = """
class S(SharedState):
    old_name: int = 0
"""

NEW_NAME = """
class S(SharedState):
    new_name: int = Field(0, validation_alias=AliasChoices("new_name", "old_name"))
"""


@SQLITE_AND_REDIS
def test_a_field_renamed_with_an_alias_reads_its_old_name(deploy: Deploy) -> None:
    """v2 read 0 while 42 stayed under the old name."""
    v1 = deploy.version("v1", OLD_NAME)
    v2 = deploy.version("v2", NEW_NAME)
    deploy.run(v1, "S.get().old_name = 42")
    moved, warned = deploy.run(
        v2,
        """
        s = S.get()
        first = s.new_name
        with s.lock("new_name"):
            s.new_name += 1
        return first, s.new_name
        """,
    )
    assert (moved, warned) == ([42, 43], [])
    assert deploy.run(v2, "return S.get().new_name")[0] == 43
    assert deploy.run(v1, "return S.get().old_name")[0] == 42  # v1 still reads its own


# -- apps kept apart -----------------------------------------------------------------------


class Secret(SharedState):
    token: str = ""


@SQLITE_AND_REDIS
def test_two_apps_with_the_same_script_name_never_share_a_state(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App b (/srv/b/dash/app.py) read app a's token: both were named "dash/app"."""
    monkeypatch.setattr(sys, "argv", ["/srv/b/dash/app.py"])
    monkeypatch.delenv("TYPED_STATE_APP")
    settings.cache_clear()
    with pytest.raises(ConfigurationError, match="needs this app's name"):
        Secret.get()
    for app, token in (("a", "for a only"), ("b", "")):
        testing.reset()
        monkeypatch.setenv("TYPED_STATE_APP", app)
        settings.cache_clear()
        if token:
            Secret.get().token = token
        assert Secret.get().token == token


@SQLITE_AND_REDIS
def test_an_upgraded_deployment_finds_what_the_default_name_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored under the name earlier releases gave by default ("dash/app"), found again
    with the name the error message gives."""
    earlier = store.new(app="dash/app")
    codec = codec_for(Secret)
    namespace = Secret.__typed_state_namespace__
    earlier.attach(namespace, {"token": ""}, codec)
    earlier.save(namespace, {"token": "kept"}, codec)
    earlier.close()
    monkeypatch.setattr(sys, "argv", ["/srv/b/dash/app.py"])
    monkeypatch.delenv("TYPED_STATE_APP")
    settings.cache_clear()
    with pytest.raises(ConfigurationError) as caught:
        Secret.get()
    told = re.search(r"TYPED_STATE_APP=(\S+) finds its stored states", str(caught.value))
    assert told is not None
    monkeypatch.setenv("TYPED_STATE_APP", told.group(1))
    settings.cache_clear()
    assert Secret.get().token == "kept"


# -- a store that lost its data --------------------------------------------------------------


class LevelV1(BaseModel):
    level: int = 3
    count: int = 0


class LevelV2(BaseModel):
    level: float = 3.0
    count: int = 0


@pytest.mark.redis
def test_a_default_shown_in_place_of_a_value_is_never_put_back(redis_url: str) -> None:
    """Redis restarted empty: every process put back what it held, and an older
    definition's default, shown in place of a value it could not read, went back too."""
    redis_store = RedisStore(redis_url)
    newer, older = redis_store.new(), redis_store.new()
    v1, v2 = codec_for(LevelV1), codec_for(LevelV2)
    try:
        newer.attach("dep.Level", {"level": 3.0, "count": 0}, v2)
        newer.save("dep.Level", {"level": 4.5}, v2)
        with pytest.warns(StoredValueWarning, match="cannot read"):
            assert older.load("dep.Level", v1) == {"level": 3, "count": 0}
        redis_store.clear()  # what a restart without persistence leaves
        lock = older.lock("dep.Level", "count")
        assert lock.acquire(10)  # finds Redis emptied: puts back what it holds
        older.save("dep.Level", {"count": 1}, v1)
        lock.release()
        assert redis_store.stored("dep.Level", "count") == "1"
        assert redis_store.stored("dep.Level", "level") is None  # not its default 3
        lock = newer.lock("dep.Level", "level")
        assert lock.acquire(10)  # the newer process puts back its 4.5
        lock.release()
        assert redis_store.stored("dep.Level", "level") == "4.5"
    finally:
        newer.close()
        older.close()
