"""The composer: Enter sends, Shift+Enter is a newline; Stop while a reply streams."""

from __future__ import annotations

import reflex as rx

from chatapp.state.composer import COMPOSER_ID, ComposerState
from chatapp.state.live import LiveState
from chatapp.state.meter import MeterState
from chatapp.state.thread import ThreadState


def model_picker() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Model", variant="ghost", data_testid="model-picker"),
        rx.select.content(
            rx.foreach(
                ComposerState.model_choices,
                lambda m: rx.select.item(
                    rx.cond(m.available, m.label, m.label + " · " + m.reason),
                    value=m.id, disabled=~m.available,
                ),
            )
        ),
        value=ComposerState.model_id,
        on_change=ComposerState.set_model,
        size="2",
    )


def local_model_warning() -> rx.Component:
    return rx.cond(
        ~ComposerState.local_model_online & ComposerState.model_id.startswith("local/"),
        rx.callout(
            "The local model is not running. Start chatapp with `make run`, which starts it, "
            "or pick another model.",
            icon="plug-zap", color_scheme="amber", size="1", data_testid="local-offline",
        ),
    )


def notice() -> rx.Component:
    return rx.cond(
        ComposerState.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.callout.text(ComposerState.notice),
            rx.hstack(
                rx.cond(ComposerState.notice_sign_in,
                        rx.link(rx.button("Sign in", size="1", variant="soft"),
                                href="/signin", data_testid="notice-sign-in")),
                rx.cond(ComposerState.notice_use_key,
                        rx.link(rx.button("Use my key", size="1", variant="soft"),
                                href="/settings/keys", data_testid="notice-use-key")),
            ),
            color_scheme="red", size="1", data_testid="notice",
        ),
    )


def meter() -> rx.Component:
    return rx.cond(
        MeterState.meter != "",
        rx.tooltip(
            rx.text(MeterState.meter, size="1", color_scheme="gray", data_testid="meter"),
            content="Your allowance on this server's keys refills continuously.",
        ),
    )


def streaming_here() -> rx.Var[bool]:
    """The thread on screen is the one whose reply is streaming in this tab."""
    return LiveState.active & (LiveState.thread_id == ThreadState.current_thread_id)


def send_or_stop() -> rx.Component:
    # Stop belongs to the thread that is streaming; other threads keep their Send button.
    return rx.cond(
        streaming_here(),
        rx.button(
            rx.icon("square", size=14), "Stop", type="button", color_scheme="gray",
            on_click=LiveState.stop, loading=LiveState.stopping, data_testid="stop-button",
        ),
        rx.button(rx.icon("arrow-up", size=16), type="submit", class_name="send-button",
                  aria_label="Send", data_testid="send-button"),
    )


def composer() -> rx.Component:
    return rx.box(
        local_model_warning(),
        notice(),
        rx.form(
            rx.el.textarea(
                id=COMPOSER_ID,
                name="message",
                placeholder="Type your message here…",
                enter_key_submit=True,
                auto_focus=True,
                rows=2,
                # Kept on the server as a draft, a moment after typing stops.
                on_change=ComposerState.save_draft.debounce(700),
                class_name="composer-input",
                data_testid="composer",
            ),
            rx.hstack(model_picker(), meter(), rx.spacer(), send_or_stop(), align="center",
                      width="100%"),
            on_submit=ComposerState.send_message,
            reset_on_submit=False,
            class_name="composer",
        ),
        class_name="composer-wrap",
    )
