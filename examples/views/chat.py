import streamlit as st
from chat_ui import show_chat
from states import Chat

st.title("Chat")
show_chat(Chat.get(), where="lobby")
