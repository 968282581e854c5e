"""`/` (a new chat) and `/chat/[thread_id]` (an existing one)."""

from __future__ import annotations

import reflex as rx

from chatapp.components.composer import composer, streaming_here
from chatapp.components.message import live_reply, message
from chatapp.components.sidebar import sidebar
from chatapp.state.thread import ThreadState


def empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("How can I help you?", size="7"),
            rx.text("Pick a model below and start typing.", color_scheme="gray"),
            align="center",
        ),
        class_name="empty-state",
    )


def not_found() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("Chat not found", size="6"),
            rx.text("This chat does not exist, or you do not have access to it."),
            rx.link("Start a new chat", href="/"),
            align="center",
        ),
        class_name="empty-state",
        data_testid="not-found",
    )


def conversation() -> rx.Component:
    return rx.box(
        rx.box(
            rx.cond(
                ThreadState.has_more,
                rx.center(rx.button("Load earlier messages", variant="ghost", size="1",
                                    on_click=ThreadState.load_earlier)),
            ),
            rx.foreach(ThreadState.messages, message),
            rx.cond(
                streaming_here(),
                live_reply(),
            ),
            class_name="messages-inner",
        ),
        id="messages",
        class_name="messages",
    )


def chat_layout() -> rx.Component:
    return rx.box(
        sidebar(),
        rx.el.main(
            rx.cond(
                ThreadState.not_found,
                not_found(),
                rx.fragment(
                    rx.cond(
                        (ThreadState.current_thread_id == "")
                        & (ThreadState.messages.length() == 0),
                        empty_state(),
                        conversation(),
                    ),
                    composer(),
                ),
            ),
            class_name="main",
        ),
        class_name="app",
    )


def index() -> rx.Component:
    return chat_layout()


def thread() -> rx.Component:
    return chat_layout()
