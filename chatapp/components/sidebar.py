"""The sidebar: New chat and search on top, threads grouped Pinned / Today / Yesterday /
Previous 7 days / Previous 30 days / by month, each with a menu (on hover, on focus, and on
right-click); the Archived view; the account at the bottom. A drawer on narrow screens."""

from __future__ import annotations

import reflex as rx

from chatapp.state.palette import PaletteState
from chatapp.state.sidebar import SidebarState
from chatapp.state.views import ThreadItem

TOGGLE_SIDEBAR = "window.chatappToggleSidebar && window.chatappToggleSidebar()"


def _items(item: ThreadItem, kind: str) -> list[rx.Component]:
    """The thread's actions, for its dropdown menu and its context menu alike."""
    menu = rx.menu if kind == "menu" else rx.context_menu
    return [
        menu.item(rx.icon("pencil", size=14), "Rename",
                  on_select=SidebarState.start_rename(item.id), data_testid="menu-rename"),
        rx.cond(
            item.archived,
            menu.item(rx.icon("archive-restore", size=14), "Restore",
                      on_select=SidebarState.set_archived(item.id, False),
                      data_testid="menu-restore"),
            rx.fragment(
                menu.item(rx.icon(rx.cond(item.pinned, "pin-off", "pin"), size=14),
                          rx.cond(item.pinned, "Unpin", "Pin"),
                          on_select=SidebarState.set_pinned(item.id, ~item.pinned),
                          data_testid="menu-pin"),
                menu.item(rx.icon("archive", size=14), "Archive",
                          on_select=SidebarState.set_archived(item.id, True),
                          data_testid="menu-archive"),
            ),
        ),
        menu.separator(),
        menu.item(rx.icon("trash-2", size=14), "Delete", color="red",
                  on_select=SidebarState.delete(item.id), data_testid="menu-delete"),
    ]


def rename_field(item: ThreadItem) -> rx.Component:
    """The title in place: Enter saves, Esc (or leaving the field) cancels."""
    return rx.form(
        rx.el.input(type="hidden", name="thread_id", value=item.id),
        rx.el.input(name="title", default_value=item.title, auto_focus=True, max_length=200,
                    class_name="rename-input", aria_label="Chat title",
                    on_blur=SidebarState.cancel_rename, data_testid="rename-input"),
        on_submit=SidebarState.rename, reset_on_submit=False, class_name="thread rename",
    )


def thread_row(item: ThreadItem) -> rx.Component:
    link = rx.link(
        rx.hstack(
            rx.cond(item.pinned & ~item.archived, rx.icon("pin", size=12, color="gray")),
            rx.text(item.title, class_name="thread-title"),
            rx.cond(item.generating, rx.spinner(size="1", data_testid="thread-spinner")),
            align="center", width="100%", gap="6px",
        ),
        href="/chat/" + item.id,
        class_name="thread",
        underline="none",
        title=rx.cond(item.preview != "",
                      item.preview + " · " + item.message_count.to_string() + " messages",
                      item.message_count.to_string() + " messages"),
        data_thread=item.id,
        data_testid="thread-link",
    )
    menu = rx.menu.root(
        rx.menu.trigger(rx.icon_button(rx.icon("ellipsis", size=14), variant="ghost", size="1",
                                       class_name="thread-menu-button",
                                       aria_label="Chat actions", data_testid="thread-menu")),
        rx.menu.content(*_items(item, "menu"), size="1"),
    )
    row = rx.context_menu.root(
        rx.context_menu.trigger(rx.box(link, menu, class_name="thread-row",
                                       data_testid="thread-row")),
        rx.context_menu.content(*_items(item, "context"), size="1"),
    )
    return rx.fragment(
        rx.cond(item.first_in_group, rx.text(item.group, class_name="group-label",
                                             data_testid="group-label")),
        rx.cond(SidebarState.renaming_id == item.id, rename_field(item), row),
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


def sidebar_toggle() -> rx.Component:
    """Shows or hides the sidebar (Ctrl/Cmd+B); on a narrow screen it opens the drawer."""
    return rx.icon_button(rx.icon("panel-left", size=16), variant="ghost", size="2",
                          on_click=rx.call_script(TOGGLE_SIDEBAR), class_name="sidebar-toggle",
                          aria_label="Toggle sidebar", data_testid="sidebar-toggle")


def sidebar() -> rx.Component:
    return rx.fragment(
        rx.el.nav(
            rx.hstack(rx.heading("chatapp", size="4"), rx.spacer(), sidebar_toggle(),
                      class_name="brand", align="center"),
            rx.link(
                rx.button(rx.icon("plus", size=16), "New chat", width="100%", variant="solid"),
                href="/", underline="none", data_testid="new-chat", id="new-chat",
            ),
            rx.button(rx.icon("search", size=14), "Search chats", rx.spacer(),
                      rx.el.kbd("Ctrl K", class_name="kbd"), variant="soft", color_scheme="gray",
                      width="100%", on_click=PaletteState.open_palette, id="palette-open",
                      data_testid="search-button"),
            rx.hstack(
                rx.text(rx.cond(SidebarState.archived_view, "Archived", "Chats"), size="1",
                        weight="bold", color_scheme="gray"),
                rx.spacer(),
                rx.button(rx.cond(SidebarState.archived_view, "Back to chats", "Archived"),
                          size="1", variant="ghost",
                          on_click=SidebarState.show_archived(~SidebarState.archived_view),
                          data_testid="archived-toggle"),
                align="center", padding_x="8px",
            ),
            rx.box(
                rx.foreach(SidebarState.threads, thread_row),
                rx.cond(
                    SidebarState.threads.length() == 0,
                    rx.text(rx.cond(SidebarState.archived_view, "No archived chats.",
                                    "No chats yet."),
                            size="2", color_scheme="gray", padding="8px"),
                ),
                rx.cond(
                    SidebarState.has_more_threads,
                    rx.button("Load more", size="1", variant="ghost", id="threads-more",
                              on_click=SidebarState.load_more_threads,
                              data_testid="threads-more"),
                ),
                # The open thread is marked from here by chat.js (class and aria-current), not
                # by each row: rows that do not read it are not drawn again when one opens.
                data_open=SidebarState.open_id,
                class_name="thread-list", id="thread-list", role="list",
            ),
            account_footer(),
            class_name="sidebar",
            aria_label="Chats",
        ),
        rx.box(class_name="drawer-backdrop", on_click=rx.call_script(TOGGLE_SIDEBAR)),
    )
