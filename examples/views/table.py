import streamlit as st
from pydantic import ValidationError
from states import Row, Table

table = Table.get()
st.title("Shared table")

# The editor edits this session's own snapshot, not the live value: when somebody
# else saves, this page re-runs but the editor's data (and so the widget and its
# unsaved edits) stay the same, and the page says that the table changed.
if "table_base" not in st.session_state:
    st.session_state["table_base"] = table.rows
base: list[Row] = st.session_state["table_base"]
if base != table.rows:
    st.warning("Somebody saved a newer version of this table while you were editing it.")
    if st.button("Load their version (drops your unsaved edits)"):
        st.session_state["table_base"] = table.rows
        st.session_state.pop("table_editor", None)
        st.rerun()

edited = st.data_editor([row.model_dump() for row in base], num_rows="dynamic", key="table_editor")
if st.button("Save"):
    try:
        table.rows = edited  # the editor returns dicts: each is validated into a Row
    except ValidationError as exc:
        error = exc.errors()[0]
        st.error(f"Not saved: row {error['loc'][1]}, {error['loc'][-1]}: {error['msg']}")
    else:
        st.session_state["table_base"] = table.rows
        st.session_state.pop("table_editor", None)
        st.rerun()
