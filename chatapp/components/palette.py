"""The command palette (Cmd/Ctrl+K) and the shortcuts sheet (Cmd/Ctrl+/)."""

from __future__ import annotations

import reflex as rx

from chatapp.components.sidebar import TOGGLE_SIDEBAR
from chatapp.state.palette import PaletteState
from chatapp.state.sidebar import SidebarState
from chatapp.state.views import SearchHitView, SearchResultView, SegmentView, ThreadItem

SHORTCUTS = (
    ("Ctrl/⌘ K", "Search chats and commands"),
    ("Ctrl/⌘ Shift O", "New chat"),
    ("Ctrl/⌘ B", "Show or hide the sidebar"),
    ("Esc", "Stop the reply being written; close a dialog"),
    ("Ctrl/⌘ /", "Show these shortcuts"),
    ("Enter", "Send (Shift+Enter for a new line)"),
)
CLOSE = PaletteState.opened(False)


def _segment(seg: SegmentView) -> rx.Component:
    return rx.cond(seg.marked, rx.el.mark(seg.text), rx.text.span(seg.text))


def _hit(result: SearchResultView, hit: SearchHitView) -> rx.Component:
    return rx.link(
        rx.text(rx.cond(hit.role == "user", "You: ", ""), rx.foreach(hit.snippet, _segment),
                size="1", class_name="hit-snippet"),
        href="/chat/" + result.thread_id + "?m=" + hit.message_id,
        on_click=CLOSE, underline="none", class_name="palette-item hit",
        data_testid="search-hit",
    )


def _result(result: SearchResultView) -> rx.Component:
    return rx.box(
        rx.link(
            rx.hstack(rx.icon("message-square", size=14),
                      rx.text(rx.foreach(result.title, _segment), size="2", weight="medium"),
                      rx.cond(result.archived, rx.badge("Archived", size="1")),
                      align="center"),
            href="/chat/" + result.thread_id, on_click=CLOSE, underline="none",
            class_name="palette-item", data_testid="search-result",
        ),
        rx.foreach(result.hits, lambda h: _hit(result, h)),
        class_name="palette-group",
    )


def _recent(item: ThreadItem) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("history", size=14), rx.text(item.title, size="2"), align="center"),
        href="/chat/" + item.id, on_click=CLOSE, underline="none", class_name="palette-item",
        data_testid="palette-recent",
    )


def _command(icon: str, label: str, testid: str, **props: object) -> rx.Component:
    return rx.el.button(rx.hstack(rx.icon(icon, size=14), rx.text(label, size="2"),
                                  align="center"),
                        class_name="palette-item command", data_testid=testid, **props)


def palette() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Search", class_name="sr-only"),
            rx.el.input(placeholder="Search chats, or type a command…", auto_focus=True,
                        class_name="palette-input", aria_label="Search chats",
                        on_change=PaletteState.search.debounce(150), data_testid="palette-input"),
            rx.hstack(
                rx.checkbox("Include archived", checked=PaletteState.include_archived,
                            on_change=PaletteState.toggle_archived, size="1",
                            data_testid="palette-archived"),
                padding_y="6px",
            ),
            rx.box(
                rx.cond(
                    PaletteState.query.strip() == "",
                    rx.fragment(
                        rx.text("Recent", class_name="group-label"),
                        rx.foreach(SidebarState.threads[:8], _recent),
                        rx.text("Actions", class_name="group-label"),
                        rx.link(_command("plus", "New chat", "palette-new-chat"), href="/",
                                on_click=CLOSE, underline="none"),
                        _command("panel-left", "Toggle sidebar", "palette-toggle-sidebar",
                                 on_click=[CLOSE, rx.call_script(TOGGLE_SIDEBAR)]),
                        rx.link(_command("settings", "Open settings", "palette-settings"),
                                href="/settings/account", on_click=CLOSE, underline="none"),
                    ),
                    rx.fragment(
                        rx.foreach(PaletteState.results, _result),
                        rx.cond(PaletteState.searched & (PaletteState.results.length() == 0),
                                rx.text("No chats match.", size="2", color_scheme="gray",
                                        padding="8px", data_testid="palette-empty")),
                        rx.cond(PaletteState.notice != "",
                                rx.text(PaletteState.notice, size="2", color_scheme="red")),
                    ),
                ),
                class_name="palette-results",
            ),
            class_name="palette", data_testid="palette",
        ),
        open=PaletteState.shown,
        on_open_change=PaletteState.opened,
    )


def shortcuts_sheet() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.el.button("Shortcuts", id="shortcuts-open", class_name="sr-only",
                                       tab_index=-1, aria_hidden="true")),
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.el.table(
                rx.el.tbody(*[rx.el.tr(rx.el.td(rx.el.kbd(keys, class_name="kbd")),
                                       rx.el.td(what)) for keys, what in SHORTCUTS]),
                class_name="shortcuts",
            ),
            rx.dialog.close(rx.button("Close", variant="soft", margin_top="12px")),
            data_testid="shortcuts",
        ),
    )
