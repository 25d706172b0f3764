# streamlit.elements.lib.form_utils, whole (a partial module would leave the rest of
# Streamlit that imports it untyped); typed_state/_streamlit.py uses current_form_id.
from typing import NamedTuple

from streamlit.delta_generator import DeltaGenerator

class FormData(NamedTuple):
    form_id: str

def _current_form(this_dg: DeltaGenerator) -> FormData | None: ...
def current_form_id(dg: DeltaGenerator) -> str: ...
def is_in_form(dg: DeltaGenerator) -> bool: ...
