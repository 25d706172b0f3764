"""A settings form everybody shares: `streamlit run examples/recipes/settings_form.py`."""

from typing import Literal

import streamlit as st
from pydantic import Field, model_validator

from typed_state import SharedState


class TeamSettings(SharedState):
    title: str = Field("Team board", min_length=1, max_length=60)
    max_users: int = Field(20, ge=1, le=500)
    guests: int = Field(0, ge=0)
    theme: Literal["light", "dark"] = "light"
    public: bool = False

    @model_validator(mode="after")
    def _guests_fit(self) -> "TeamSettings":
        if self.guests > self.max_users:
            raise ValueError("there are more guests than users")
        return self


settings = TeamSettings.get()
st.title(settings.title)

# Inside a form the submission writes every field the user changed, as one update()
# validated together (the model validator included): all or nothing.  A rejected
# submission stores nothing, says why in a toast and keeps the user's input.
with st.form("settings"):
    st.text_input("Title", **settings.widget(lambda s: s.title))
    st.number_input("Max users", 1, 500, **settings.widget(lambda s: s.max_users))
    st.number_input("Guests", min_value=0, **settings.widget(lambda s: s.guests))
    st.selectbox("Theme", ["light", "dark"], **settings.widget(lambda s: s.theme))
    st.checkbox("Public", **settings.widget(lambda s: s.public))
    st.form_submit_button("Save")

st.caption(f"Saved {settings.version(lambda s: s.title)} times (the title's version).")
