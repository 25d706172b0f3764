"""Property tests: random programs of writes never leave an invalid or diverging state.

Each program mixes assignments, ``update()``, ``mutate()`` (some raising inside
the block), invalid values, locked read-modify-writes and in-place edits of
read values, against a model with constraints and a model validator.  After
every program the stored values validate against the class, equal a replay of
the operations that returned without error, and hold nothing an operation that
raised tried to store.

``TYPED_STATE_HYPOTHESIS_EXAMPLES`` sets how many programs run per test (small
by default, so CI stays quick; raise it locally for a deeper search).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError, model_validator

from tests.stores import Store
from typed_state import ReadOnlyValueError, SharedState, testing

EXAMPLES = int(os.environ.get("TYPED_STATE_HYPOTHESIS_EXAMPLES", "20"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=4)
    qty: int = Field(0, ge=0, le=5)


def _check_stock(total: int, items: list[Item]) -> None:
    if total < sum(item.qty for item in items):
        raise ValueError("total below the items' quantities")


class Stock(SharedState):
    items: list[Item] = Field(default_factory=list, max_length=3)
    total: int = Field(0, ge=0, le=20)
    label: str = Field("", max_length=3)

    @model_validator(mode="after")
    def _total_covers_items(self) -> Stock:
        _check_stock(self.total, self.items)
        return self


class Reference(BaseModel):
    """The same rules on a plain model: what a sequential replay must give."""

    items: list[Item] = Field(default_factory=list, max_length=3)
    total: int = Field(0, ge=0, le=20)
    label: str = Field("", max_length=3)

    @model_validator(mode="after")
    def _total_covers_items(self) -> Reference:
        _check_stock(self.total, self.items)
        return self


items = st.lists(st.tuples(st.text("ab", min_size=0, max_size=5), st.integers(-1, 6)), max_size=4)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set_total"), st.integers(-2, 25)),
        st.tuples(st.just("set_items"), items),
        st.tuples(st.just("set_label"), st.text("xy", max_size=4)),
        st.tuples(st.just("update"), st.integers(-2, 25), items),
        st.tuples(st.just("mutate_append"), st.text("ab", max_size=5), st.integers(-1, 6)),
        st.tuples(st.just("mutate_then_raise"), st.text("ab", max_size=5), st.integers(0, 5)),
        st.tuples(st.just("locked_add"), st.integers(-3, 8)),
        st.tuples(st.just("poke"), st.integers(0, 2)),
    ),
    max_size=12,
)


def _item_dicts(raw: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"name": name, "qty": qty} for name, qty in raw]


def _apply(stock: Stock, op: tuple[Any, ...]) -> dict[str, Any] | None:
    """Run one operation; the fields it changed (for the replay), or None if it raised."""
    kind = op[0]
    try:
        if kind == "set_total":
            stock.total = op[1]
            return {"total": op[1]}
        if kind == "set_items":
            stock.items = _item_dicts(op[1])  # type: ignore[assignment]
            return {"items": _item_dicts(op[1])}
        if kind == "set_label":
            stock.label = op[1]
            return {"label": op[1]}
        if kind == "update":
            stock.update(total=op[1], items=_item_dicts(op[2]))
            return {"total": op[1], "items": _item_dicts(op[2])}
        if kind in ("mutate_append", "mutate_then_raise"):
            with stock.mutate("items") as draft:
                item = Item.model_construct(name=op[1], qty=op[2])  # checked on exit
                new = [*draft, item]
                draft.append(item)
                if kind == "mutate_then_raise":
                    raise KeyError("changed my mind")
            return {"items": [item.model_dump() for item in new]}
        if kind == "locked_add":
            with stock.lock("total"):
                stock.total += op[1]
                return {"total": stock.total}
        if kind == "poke":
            attempts = [
                lambda: stock.items.append(Item(name="z")),
                lambda: setattr(stock.items[0], "qty", 5) if stock.items else stock.items.clear(),
                lambda: stock.items.__setitem__(slice(0, 0), []),
            ]
            with pytest.raises(ReadOnlyValueError):
                attempts[op[1]]()
            return None
    except (ValidationError, KeyError):
        return None
    raise AssertionError(f"unknown operation {op!r}")


def _check_valid(stock: Stock) -> dict[str, Any]:
    dumped = stock.model_dump()
    Reference.model_validate(dumped)  # the stored value validates against the rules
    return dumped


def _run_sequential(program: list[tuple[Any, ...]]) -> None:
    stock = Stock.get()
    expected = Reference().model_dump()
    for op in program:
        before = stock.model_dump()
        done = _apply(stock, op)
        if done is None:
            assert stock.model_dump() == before, f"{op!r} raised but changed the state"
            continue
        expected = Reference.model_validate({**expected, **done}).model_dump()
        assert _check_valid(stock) == expected, op
    assert stock.model_dump() == expected


@PROPERTY
@given(program=operations)
def test_sequential_programs_replay_exactly_in_memory(program: list[tuple[Any, ...]]) -> None:
    testing.reset()
    _run_sequential(program)


@PROPERTY
@given(program=operations)
def test_sequential_programs_replay_exactly_in_a_shared_store(
    store: Store, program: list[tuple[Any, ...]]
) -> None:
    _fresh(store)
    _run_sequential(program)


# -- concurrent programs: operations that commute, so any order replays the same ------

concurrent_ops = st.lists(
    st.one_of(
        st.tuples(st.just("locked_add"), st.integers(-1, 4)),
        st.tuples(st.just("mutate_append"), st.text("ab", min_size=1, max_size=4)),
        st.tuples(st.just("mutate_then_raise"), st.text("ab", min_size=1, max_size=4)),
        st.tuples(st.just("set_bad_total"), st.integers(21, 30)),
    ),
    min_size=1,
    max_size=15,
)


class Tally(SharedState):
    total: int = Field(0, ge=0)
    names: list[str] = Field(default_factory=list)


class TallyRules(BaseModel):
    total: int = Field(0, ge=0)
    names: list[str] = Field(default_factory=list)


CONCURRENT_WORKER = """
def run_ops(tally, ops):
    from pydantic import ValidationError

    done = []
    for op in ops:
        kind, arg = op
        try:
            if kind == "locked_add":
                with tally.lock("total"):
                    tally.total += arg
            elif kind in ("mutate_append", "mutate_then_raise"):
                with tally.mutate("names") as names:
                    names.append(arg)
                    if kind == "mutate_then_raise":
                        raise KeyError(arg)
            elif kind == "set_bad_total":
                tally.update(total=-arg)
        except (ValidationError, KeyError):
            continue
        done.append(op)
    return done
"""
_namespace: dict[str, Any] = {}
exec(CONCURRENT_WORKER, _namespace)
run_ops = _namespace["run_ops"]


def _check_concurrent(tally: Tally, done: list[list[Any]]) -> None:
    flat = [op for ops in done for op in ops]
    assert tally.total == sum(arg for kind, arg in flat if kind == "locked_add")
    assert sorted(tally.names) == sorted(arg for kind, arg in flat if kind == "mutate_append")
    assert not any(kind in ("mutate_then_raise", "set_bad_total") for kind, _ in flat)
    TallyRules.model_validate(tally.model_dump())


@PROPERTY
@given(programs=st.lists(concurrent_ops, min_size=2, max_size=4))
def test_concurrent_threads_lose_nothing_and_store_nothing_invalid(
    programs: list[list[tuple[str, Any]]],
) -> None:
    testing.reset()
    tally = Tally.get()
    done: list[list[Any]] = [[] for _ in programs]

    def worker(index: int) -> None:
        done[index] = run_ops(tally, programs[index])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(programs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    _check_concurrent(tally, done)


@settings(
    max_examples=max(2, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(programs=st.lists(concurrent_ops, min_size=2, max_size=2))
def test_two_processes_lose_nothing_and_store_nothing_invalid(
    store: Store, tmp_path_factory: pytest.TempPathFactory, programs: list[list[Any]]
) -> None:
    _fresh(store)
    folder = tmp_path_factory.mktemp("procs")
    (folder / "tally_state.py").write_text(
        "from pydantic import Field\nfrom typed_state import SharedState\n\n\n"
        "class Tally(SharedState):\n"
        "    __module__ = 'tests.test_properties'\n"
        "    total: int = Field(0, ge=0)\n"
        "    names: list[str] = Field(default_factory=list)\n"
    )
    script = folder / "worker.py"
    script.write_text(
        CONCURRENT_WORKER
        + textwrap.dedent(
            """
            import json, sys
            from tally_state import Tally
            ops = [tuple(op) for op in json.loads(sys.argv[1])]
            print(json.dumps(run_ops(Tally.get(), ops)))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(folder)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), json.dumps(ops)],
            env=env,
            cwd=folder,
            stdout=subprocess.PIPE,
            text=True,
        )
        for ops in programs
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    done = [json.loads(out) for out in outputs]
    testing.reset()  # read what the store holds, not this process's cache
    _check_concurrent(Tally.get(), done)


def _fresh(store: Store) -> None:
    """A new example starts from an empty store (a test's fixtures run once for all)."""
    testing.reset()
    store.clear()
