"""The sidebar: New chat on top, threads grouped Today / Yesterday / Previous 7 days / Older."""

from __future__ import annotations

import reflex as rx

from chatapp.state.chat import ChatState
from chatapp.state.sidebar import SidebarState
from chatapp.state.views import ThreadItem


def thread_link(item: ThreadItem) -> rx.Component:
    return rx.fragment(
        rx.cond(item.first_in_group, rx.text(item.group, class_name="group-label")),
        rx.link(
            rx.hstack(
                rx.text(item.title, class_name="thread-title"),
                rx.cond(item.generating, rx.spinner(size="1", data_testid="thread-spinner")),
                align="center", width="100%", justify="between",
            ),
            href="/chat/" + item.id,
            class_name=rx.cond(item.id == ChatState.current_thread_id, "thread active", "thread"),
            underline="none",
            data_testid="thread-link",
        ),
    )


def sidebar() -> rx.Component:
    return rx.el.nav(
        rx.hstack(rx.heading("chatapp", size="4"), class_name="brand"),
        rx.link(
            rx.button(rx.icon("plus", size=16), "New chat", width="100%", variant="solid"),
            href="/", underline="none", data_testid="new-chat",
        ),
        rx.box(
            rx.foreach(SidebarState.threads, thread_link),
            rx.cond(
                SidebarState.threads.length() == 0,
                rx.text("No chats yet.", size="2", color_scheme="gray", padding="8px"),
            ),
            class_name="thread-list",
        ),
        class_name="sidebar",
    )
