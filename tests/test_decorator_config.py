"""@shared_state injection, and settings from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config

from typed_state import ConfigurationError, DefinitionError, SharedState, StateConfig, shared_state
from typed_state._config import settings
from typed_state._open import backend_for


class Board(SharedState):
    votes: int = 0


def test_shared_state_injects_the_shared_instance() -> None:
    seen: list[Board] = []

    @shared_state
    def page(board: Board) -> None:
        seen.append(board)

    page()
    page()
    assert seen == [Board.get(), Board.get()]
    assert seen[0] is Board.get()
    assert page.__name__ == "page"


def test_shared_state_refuses_a_parameter_it_cannot_fill() -> None:
    @shared_state
    def page(board: Board, title: str) -> None:
        pass

    with pytest.raises(DefinitionError, match="parameter 'title' must be annotated"):
        page()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYPED_STATE_MIN_RERUN_INTERVAL", "0.25")
    settings.cache_clear()
    assert settings().min_rerun_interval == 0.25
    assert settings().url == "memory://"


def test_bad_settings_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYPED_STATE_MIN_RERUN_INTERVAL", "-1")
    settings.cache_clear()
    with pytest.raises(ConfigurationError, match="min_rerun_interval"):
        settings()


def test_unsupported_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYPED_STATE_URL", "mongodb://db/0")
    settings.cache_clear()
    with pytest.raises(ConfigurationError, match="unsupported typed_state URL 'mongodb://db/0'"):
        Board.get()


@pytest.mark.parametrize(
    "url", ["rediss+sentinel://:S3cret@db:26379/0", "sqlite://admin:S3cret@host/x.db"]
)
def test_a_url_error_never_shows_the_password(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYPED_STATE_URL", url)
    settings.cache_clear()
    with pytest.raises(ConfigurationError) as caught:
        Board.get()
    assert "S3cret" not in str(caught.value)
    assert "***@" in str(caught.value)


def test_a_class_may_name_its_own_backend() -> None:
    class Elsewhere(SharedState):
        model_config = StateConfig(typed_state_url="nope://x")
        n: int = 0

    with pytest.raises(ConfigurationError, match="nope://x"):
        Elsewhere.get()


def test_the_public_api_is_exactly_this_and_reports_typed_state_as_its_module() -> None:
    import typed_state

    assert typed_state.__all__ == [
        "BackendError",
        "ConfigurationError",
        "DefinitionError",
        "FieldNameError",
        "InvalidKeyError",
        "KeyNotAllowedError",
        "LockLostError",
        "LockTimeoutError",
        "Log",
        "ReadOnlyValueError",
        "SchemaChangedWarning",
        "SharedState",
        "StaleWriteError",
        "StateConfig",
        "StateDroppedError",
        "StoredValueError",
        "StoredValueWarning",
        "TypedStateError",
        "Version",
        "WidgetBinding",
        "inspector",
        "no_rerun",
        "notice",
        "shared_state",
    ]
    for name in typed_state.__all__:
        member = getattr(typed_state, name)
        if isinstance(member, type) or callable(member):
            assert member.__module__ == "typed_state", name
        else:  # an instance: no_rerun, notice
            assert type(member).__module__ == "typed_state", name
    assert repr(typed_state.FieldNameError) == "<class 'typed_state.FieldNameError'>"
    from typed_state import testing

    assert testing.RerunRecord.__module__ == "typed_state.testing"


def test_the_type_hints_of_every_public_callable_resolve() -> None:
    """typing.get_type_hints() raised NameError on SharedState.mutate, update, widget and
    shared_state (names imported for type checkers only): documentation tools and
    introspection read them.  StateConfig is Pydantic's ConfigDict, whose own hints
    name types Pydantic imports for type checkers only."""
    import inspect
    import typing

    import typed_state

    failed = []
    for name in typed_state.__all__:
        member = getattr(typed_state, name)
        if name == "StateConfig" or not callable(member):
            continue
        methods = [
            (f"{name}.{attr}", value)
            for attr, value in vars(member).items()
            if isinstance(member, type) and not attr.startswith("_") and inspect.isfunction(value)
        ]
        for label, function in [(name, member), *methods]:
            try:
                typing.get_type_hints(function)
            except NameError as exc:
                failed.append(f"{label}: {exc}")
    assert failed == []


# Settings that need no Redis running (they were skipped with the Redis tests).


def test_unsupported_scheme_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="supported schemes"):
        backend_for("mongodb://x")


def test_a_shared_store_needs_the_apps_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The default name was the main script's folder and name: two apps at
    /srv/a/dash/app.py and /srv/b/dash/app.py on one store shared every state."""
    monkeypatch.delenv("TYPED_STATE_APP", raising=False)
    monkeypatch.setenv("TYPED_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    settings.cache_clear()
    monkeypatch.setattr(sys, "argv", ["/srv/a/dash/app.py"])
    with pytest.raises(ConfigurationError) as caught:
        Board.get()
    message = str(caught.value)
    assert "set TYPED_STATE_APP=<name>" in message
    assert "[typed_state] in .streamlit/secrets.toml" in message
    assert "TYPED_STATE_APP=dash/app finds its stored states" in message  # the upgrade path
    monkeypatch.setenv("TYPED_STATE_URL", "memory://")  # one process: no name needed
    settings.cache_clear()
    assert Board.get().votes == 0


def test_settings_come_from_secrets_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[typed_state]\nmin_rerun_interval = 0.5\napp = "shop"\n')
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(secrets)])
    st.secrets._reset()  # Streamlit caches what it parsed
    try:
        settings.cache_clear()
        assert settings().min_rerun_interval == 0.5
        assert settings().app == "shop"
        monkeypatch.setenv("TYPED_STATE_APP", "from-env")  # the environment wins
        settings.cache_clear()
        assert settings().app == "from-env"
    finally:
        config.set_option("secrets.files", before)
        st.secrets._reset()
        settings.cache_clear()


def test_no_secrets_file_is_no_error_and_defaults_hold(tmp_path: Path) -> None:
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(tmp_path / "missing.toml")])
    try:
        settings.cache_clear()
        assert settings().min_rerun_interval == 0.1
    finally:
        config.set_option("secrets.files", before)
        settings.cache_clear()


def test_a_redis_url_without_redis_py_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=r"needs redis-py: pip install"):
        backend_for("redis://127.0.0.1:1/0")
