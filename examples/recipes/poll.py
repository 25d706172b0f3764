"""A live poll: `streamlit run examples/recipes/poll.py` in a few tabs, and vote."""

import streamlit as st
from pydantic import Field

from typed_state import SharedState, notice


class Poll(SharedState):
    question: str = "Where do we eat on Friday?"
    votes: dict[str, int] = Field(default_factory=lambda: {"Pizza": 0, "Sushi": 0, "Tacos": 0})


poll = Poll.get()
st.title(poll.question)

choice = st.radio("Your vote", list(poll.votes), index=None)
voted = st.session_state.get("voted", False)
if st.button("Vote", disabled=choice is None or voted) and choice is not None:
    with poll.lock(lambda p: p.votes):  # two votes at once both count
        poll.set_item(lambda p: p.votes, choice, poll.votes[choice] + 1)
    st.session_state["voted"] = True
    notice.success(f"You voted for {choice}.")

# Every session showing the results re-runs when somebody votes.
total = sum(poll.votes.values())
for option, count in poll.votes.items():
    st.progress(count / total if total else 0.0, text=f"{option}: {count}")
st.caption(f"{total} votes, {poll.presence()} people looking")
