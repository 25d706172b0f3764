import threading
import time

import streamlit as st
from states import Job


def work() -> None:
    """A worker thread: it has no session, writes freely and binds nothing."""
    job = Job.get()
    for step in range(1, 101):
        time.sleep(0.1)
        job.progress = step
        if step % 25 == 0:
            with job.mutate("log") as log:
                log.append(f"{time.strftime('%H:%M:%S')} reached {step} %")
    job.running = False


job = Job.get()
st.title("Worker progress")
st.caption("A background thread advances the job; every open page follows it.")


def start() -> None:
    with job.lock("running"):
        if job.running:
            return
        job.update(running=True, progress=0, log=[])
    threading.Thread(target=work, daemon=True, name="demo-worker").start()


st.button("Start the job", on_click=start, disabled=job.running)
st.progress(job.progress / 100, text=f"{job.progress} %")
for line in job.log:
    st.text(line)
