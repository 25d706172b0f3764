import streamlit as st
from states import Document

from typed_state import StaleWriteError

doc = Document.get()
st.title("Shared document")

# The version this user started from: a save is refused if somebody saved since.
if "doc_base" not in st.session_state:
    st.session_state["doc_base"] = doc.version("text")
    st.session_state["doc_draft"] = doc.text


def load_theirs() -> None:
    st.session_state["doc_base"] = doc.version("text")
    st.session_state["doc_draft"] = doc.text
    st.session_state.pop("doc_conflict", None)


def overwrite() -> None:
    doc.text = st.session_state["doc_draft"]
    st.session_state["doc_base"] = doc.version("text")
    st.session_state.pop("doc_conflict", None)


def save() -> None:
    try:
        doc.update(
            text=st.session_state["doc_draft"],
            if_versions={"text": st.session_state["doc_base"]},
        )
    except StaleWriteError:
        st.session_state["doc_conflict"] = True
    else:
        st.session_state["doc_base"] = doc.version("text")
        st.toast("Saved")


st.text_area("Your draft", key="doc_draft", height=150)
st.button("Save", on_click=save, type="primary")
st.caption(
    f"You started from version {st.session_state['doc_base']}; "
    f"the saved document is at version {doc.version('text')}."
)

if st.session_state.get("doc_conflict"):
    st.warning("Somebody saved another version while you were editing: nothing was saved.")
    theirs, yours = st.columns(2)
    theirs.text_area("Their version", doc.text, height=150, disabled=True)
    yours.text_area("Yours", st.session_state["doc_draft"], height=150, disabled=True)
    left, right = st.columns(2)
    left.button("Load theirs (drop my edits)", on_click=load_theirs)
    right.button("Overwrite with mine", on_click=overwrite)
