"""One message in the conversation: user bubble, assistant reply, error with Retry."""

from __future__ import annotations

import reflex as rx

from chatapp.components.markdown import markdown
from chatapp.state.composer import ComposerState
from chatapp.state.live import LiveState
from chatapp.state.thread import ThreadState
from chatapp.state.views import MessageView


def user_message(msg: MessageView) -> rx.Component:
    return rx.box(
        rx.text(msg.content, white_space="pre-wrap", class_name="user-text"),
        class_name="msg msg-user",
        data_testid="user-message",
    )


def typing_dots() -> rx.Component:
    return rx.hstack(
        rx.spinner(size="1"), rx.text("Thinking…", size="2", color_scheme="gray"),
        class_name="typing", data_testid="typing",
    )


def reply_error(msg: MessageView) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(msg.error),
        rx.cond(  # only where retrying as it is can help: not after a refused key
            msg.can_retry,
            rx.button(
                rx.icon("rotate-ccw", size=14), "Retry",
                size="1", variant="soft", on_click=ComposerState.retry(msg.id),
                justify_self="start",  # the callout is a grid: without this it spans the row
                data_testid="retry-button",
            ),
        ),
        color_scheme="red", size="1", class_name="reply-error", data_testid="reply-error",
    )


def regenerate_button(msg: MessageView) -> rx.Component:
    return rx.button(rx.icon("rotate-ccw", size=12), "Regenerate", size="1", variant="ghost",
                     on_click=ComposerState.retry(msg.id), data_testid="regenerate-button")


def live_reply() -> rx.Component:
    """The reply streaming in this tab; `head` stays put while `tail` grows."""
    return rx.box(
        # The Markdown is mounted while waiting, so the first token only updates its text.
        rx.cond((LiveState.head == "") & (LiveState.tail == ""), typing_dots()),
        markdown(LiveState.head),
        markdown(LiveState.tail),
        # Same footer as a finished reply, so the page does not shift when it ends.
        rx.text(ComposerState.selected_model_label, size="1", color_scheme="gray",
                class_name="model-label"),
        class_name="msg msg-assistant",
        data_testid="live-reply",
    )


def assistant_message(msg: MessageView) -> rx.Component:
    stored = rx.fragment(
        rx.cond(msg.content != "", markdown(msg.content)),
        rx.cond(
            msg.active,
            typing_dots(),
        ),
        rx.cond(msg.status == "error", reply_error(msg)),
        rx.cond(
            msg.status == "cancelled",
            rx.hstack(
                rx.badge("Stopped", color_scheme="gray", variant="soft"),
                regenerate_button(msg),
                class_name="reply-meta", data_testid="reply-stopped",
            ),
        ),
        rx.cond(
            msg.status == "interrupted",
            rx.hstack(
                rx.badge(rx.icon("unplug", size=12), "Interrupted", color_scheme="amber",
                         variant="soft"),
                rx.text(msg.error, size="1", color_scheme="gray"),
                regenerate_button(msg),
                class_name="reply-meta", data_testid="reply-interrupted",
            ),
        ),
    )
    # A reply streaming in this tab is drawn by live_reply() below the list, so the
    # list itself does not re-render on every flush.
    return rx.cond(
        msg.live,
        rx.fragment(),
        rx.box(
            stored,
            rx.text(msg.model_label, size="1", color_scheme="gray", class_name="model-label"),
            rx.cond(
                ThreadState.stats_for_nerds & (msg.stats != ""),
                rx.text(msg.stats, size="1", color_scheme="gray", class_name="reply-stats",
                        data_testid="reply-stats"),
            ),
            class_name="msg msg-assistant",
            data_testid="assistant-message",
            data_status=msg.status,
        ),
    )


def message(msg: MessageView) -> rx.Component:
    return rx.cond(msg.role == "user", user_message(msg), assistant_message(msg))
