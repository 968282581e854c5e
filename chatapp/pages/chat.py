"""`/` (a new chat) and `/chat/[thread_id]` (an existing one)."""

from __future__ import annotations

import reflex as rx

from chatapp.components.composer import composer, streaming_here
from chatapp.components.message import live_reply, message, regenerate_dialog
from chatapp.components.palette import palette, shortcuts_sheet
from chatapp.components.sidebar import sidebar, sidebar_toggle
from chatapp.state.thread import SLOT_STATES, SLOTS, ThreadState


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


def fork_origin() -> rx.Component:
    return rx.cond(
        ThreadState.forked_from_id != "",
        rx.center(
            rx.text(rx.icon("git-branch", size=12), " Branched off from ",
                    rx.link(ThreadState.forked_from_title,
                            href="/chat/" + ThreadState.forked_from_id),
                    size="1", color_scheme="gray"),
            data_testid="forked-from",
        ),
    )


def thread_notice() -> rx.Component:
    return rx.cond(
        ThreadState.notice != "",
        rx.callout.root(rx.callout.icon(rx.icon("info")),
                        rx.callout.text(ThreadState.notice),
                        color_scheme="amber", size="1", data_testid="thread-notice"),
    )


def _page(k: int) -> rx.Component:
    """One slot of the window: its own list, so loading another page leaves it untouched."""
    return rx.box(rx.foreach(SLOT_STATES[k].views, message), class_name="page",
                  order=ThreadState.slot_positions[k])


def conversation() -> rx.Component:
    # Scrolling to either end loads the next page by itself (chat.js watches these buttons);
    # the buttons stay for keyboards.
    return rx.box(
        rx.box(
            rx.box(
                fork_origin(),
                rx.cond(
                    ThreadState.has_more,
                    rx.center(rx.button("Load earlier messages", variant="ghost", size="1",
                                        on_click=ThreadState.load_earlier, id="load-earlier",
                                        data_testid="load-earlier")),
                ),
                class_name="page-edge", order=-1,
            ),
            *[_page(k) for k in range(SLOTS)],
            rx.box(
                rx.cond(
                    ThreadState.has_newer,
                    rx.center(rx.button("Load newer messages", variant="ghost", size="1",
                                        on_click=ThreadState.load_newer, id="load-newer",
                                        data_testid="load-newer")),
                ),
                rx.cond(
                    streaming_here(),
                    live_reply(),
                ),
                thread_notice(),
                class_name="page-edge", order=SLOTS,
            ),
            class_name="messages-inner",
        ),
        id="messages",
        class_name="messages",
    )


def chat_layout() -> rx.Component:
    return rx.box(
        sidebar(),
        palette(),
        shortcuts_sheet(),
        regenerate_dialog(),
        rx.el.main(
            rx.box(sidebar_toggle(), class_name="topbar"),
            rx.cond(
                ThreadState.not_found,
                not_found(),
                rx.fragment(
                    rx.cond(
                        (ThreadState.current_thread_id == "") & ThreadState.empty,
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
