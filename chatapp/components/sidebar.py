"""The sidebar: New chat on top, threads grouped Today / Yesterday / Previous 7 days / Older."""

from __future__ import annotations

import reflex as rx

from chatapp.state.sidebar import SidebarState
from chatapp.state.thread import ThreadState
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
            class_name=rx.cond(item.id == ThreadState.current_thread_id, "thread active", "thread"),
            underline="none",
            data_testid="thread-link",
        ),
    )


def account_footer() -> rx.Component:
    return rx.box(
        rx.cond(
            SidebarState.signed_in,
            rx.link(
                rx.hstack(
                    rx.avatar(src=SidebarState.avatar_url, fallback="☺", size="2", radius="full"),
                    rx.text(SidebarState.user_label, size="2", class_name="thread-title"),
                    align="center",
                ),
                href="/settings/account", underline="none", class_name="thread",
                data_testid="account-link",
            ),
            rx.hstack(
                rx.link(rx.button(rx.icon("log-in", size=14), "Sign in", variant="soft",
                                  width="100%"),
                        href="/signin", underline="none", width="100%",
                        data_testid="sign-in-link"),
                rx.link(rx.icon_button(rx.icon("user", size=16), variant="ghost",
                                       aria_label="Account"),
                        href="/settings/account", data_testid="account-link"),
                align="center", width="100%",
            ),
        ),
        class_name="sidebar-footer",
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
        account_footer(),
        class_name="sidebar",
    )
