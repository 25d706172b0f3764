"""The states of the fault tests and trials (tests/test_faults.py, benchmarks/faults.py).

Their worker processes import them from here too, so that every process names a
state alike (a class's module and name are its name in the store)."""

from pydantic import Field, model_validator

from typed_state import SharedState


class Tally(SharedState):
    n: int = 0
    log: list[str] = Field(default_factory=list)


class Range(SharedState):
    lo: int = 0
    hi: int = 1000

    @model_validator(mode="after")
    def ordered(self) -> "Range":
        if self.lo > self.hi:
            raise ValueError("lo must not exceed hi")
        return self
