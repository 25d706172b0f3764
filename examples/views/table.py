from typing import Any

import streamlit as st
from pydantic import ValidationError
from states import Row, Table

from typed_state import StaleWriteError, notice

table = Table.get()
st.title("Shared table")

# The editor edits this session's own snapshot, not the live value: when somebody
# else saves, this page re-runs but the editor's data (and so the widget and its
# unsaved edits) stay the same, and the page says that the table changed. The
# version kept with the snapshot makes Save refuse to overwrite a newer save.
# --8<-- [start:snapshot]
if "table_base" not in st.session_state:
    st.session_state["table_version"] = table.version("rows")
    st.session_state["table_base"] = table.rows


def load_theirs() -> None:
    st.session_state["table_version"] = table.version("rows")
    st.session_state["table_base"] = table.rows
    st.session_state.pop("table_editor", None)  # drops the unsaved edits


def rows_of(edited: list[dict[str, object]]) -> list[Any]:
    # A new row's blank cells come back as None: leave them out, so the field's
    # default applies (qty=1) or its own message says what is missing (item).
    # Dicts, typed Any: update() validates each into a Row.
    return [{name: v for name, v in row.items() if v is not None} for row in edited]


def save(edited: list[dict[str, object]], *, overwrite: bool = False) -> None:
    seen = None if overwrite else {"rows": st.session_state["table_version"]}
    try:
        table.update(rows=rows_of(edited), if_versions=seen)
    except StaleWriteError:
        notice.warning("Somebody saved a newer version first: nothing was saved.")
        return
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ", ".join(str(part) for part in error["loc"][1:]) or "rows"
        notice.error(f"Not saved: row {where}: {error['msg']}")
        return
    load_theirs()  # the saved table is the new snapshot
    notice.success("Saved.")


# --8<-- [end:snapshot]


behind = st.session_state["table_version"] != table.version("rows")
if behind:
    st.warning("Somebody saved a newer version of this table while you were editing it.")
    st.button("Load their version (drops your unsaved edits)", on_click=load_theirs)
base: list[Row] = st.session_state["table_base"]
edited = st.data_editor([row.model_dump() for row in base], num_rows="dynamic", key="table_editor")
# Saved in the page body, where the editor has just returned this run's edits.
if behind and st.button("Overwrite with mine"):
    save(edited, overwrite=True)
if st.button("Save", type="primary"):
    save(edited)
