"""A dashboard a worker thread feeds: `streamlit run examples/recipes/dashboard.py`."""

import os
import random
import threading
import time
from datetime import datetime

import streamlit as st
from pydantic import BaseModel, Field

from typed_state import SharedState


class Sample(BaseModel):
    at: datetime
    load: float


class Metrics(SharedState):
    samples: list[Sample] = Field(default_factory=list)
    sampling: bool = False


IDLE_SECONDS = 30
"""The sampler stops after this long with nobody looking; the next visitor restarts it."""


def sample() -> None:
    """A thread: it has no session, binds nothing, and its writes re-run every reader."""
    metrics = Metrics.get()
    idle = 0
    try:
        while idle < IDLE_SECONDS:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else random.random()
            # One append: only the new sample is validated and stored; the last 120 kept.
            point = Sample(at=datetime.now(), load=load)
            metrics.append(lambda m: m.samples, point, keep_last=120)
            idle = 0 if metrics.presence() else idle + 1
            time.sleep(1.0)
    finally:
        metrics.sampling = False  # even after an error, so that a visitor restarts it


def ensure_sampler() -> None:
    """Start the sampler unless one runs: under the lock, two visitors start one."""
    metrics = Metrics.get()
    with metrics.lock(lambda m: m.sampling):
        if not metrics.sampling:
            metrics.sampling = True
            threading.Thread(target=sample, daemon=True, name="sampler").start()


ensure_sampler()
st.title("Server load")


@st.fragment
def chart() -> None:
    samples = Metrics.get().samples
    if samples:
        st.metric("Load (1 min)", f"{samples[-1].load:.2f}")
        st.line_chart([s.load for s in samples])
    else:
        st.caption("The first sample comes in a second.")


chart()
