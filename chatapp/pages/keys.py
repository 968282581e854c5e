"""`/settings/keys`: the user's own provider API keys — paste, test, replace, delete.

The body only: the route table puts it in the settings frame."""

from __future__ import annotations

import reflex as rx

from chatapp.components.settings_nav import settings_notice
from chatapp.state.keys import KeyRow, KeysState


def test_result(row: KeyRow) -> rx.Component:
    return rx.cond(
        KeysState.testing == row.provider,
        rx.hstack(rx.spinner(size="1"), rx.text("Testing…", size="2"), align="center",
                  data_testid="key-testing"),
        rx.cond(
            row.status != "",
            rx.hstack(
                rx.badge(rx.cond(row.status == "ok", "Works", "Failed"),
                         color_scheme=rx.cond(row.status == "ok", "green", "red")),
                rx.text(row.message, size="2"),
                rx.text(row.tested_at, size="1", color_scheme="gray"),
                align="center", wrap="wrap", data_testid="key-test-result",
                data_status=row.status,
            ),
            rx.text("Not tested yet.", size="2", color_scheme="gray",
                    data_testid="key-test-result", data_status="untested"),
        ),
    )


def saved_key(row: KeyRow) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.code("•••• " + row.last4, data_testid="key-last4"),
            rx.spacer(),
            rx.button("Test", size="1", variant="soft", on_click=KeysState.test_key(row.provider),
                      disabled=KeysState.testing != "", data_testid="key-test"),
            rx.button("Delete", size="1", variant="soft", color_scheme="red",
                      on_click=KeysState.delete_key(row.provider), data_testid="key-delete"),
            align="center", width="100%",
        ),
        test_result(row),
        spacing="2", width="100%",
    )


def key_form(row: KeyRow) -> rx.Component:
    # A form that resets on submit: the pasted key leaves the page as it is saved.
    return rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="provider", value=row.provider),
            rx.input(
                name="key", type="password", width="100%", auto_complete="off",
                placeholder=rx.cond(row.saved, "Paste a new key to replace it",
                                    "Paste your " + row.label + " API key"),
                data_testid="key-input",
            ),
            rx.button(rx.cond(row.saved, "Replace", "Save"), type="submit",
                      data_testid="key-save"),
            width="100%",
        ),
        on_submit=KeysState.save_key,
        reset_on_submit=True,
        width="100%",
    )


def key_row(row: KeyRow) -> rx.Component:
    return rx.vstack(
        rx.heading(row.label, size="3"),
        rx.cond(row.saved, saved_key(row)),
        key_form(row),
        spacing="2", width="100%", class_name="settings-section",
        data_testid="key-row", data_provider=row.provider,
    )


def signed_out() -> rx.Component:
    return rx.vstack(
        rx.text("Sign in to use your own keys.", data_testid="keys-signed-out"),
        rx.link(rx.button("Sign in"), href="/signin?next=/settings/keys",
                data_testid="keys-sign-in"),
        spacing="3",
    )


def body() -> rx.Component:
    return rx.fragment(
        rx.text(
            "Use your own key for a provider: its models become available to you, and "
            "replies that use your key do not count against your budget. Keys are stored "
            "encrypted; only their last four characters are ever shown again.",
            size="2", color_scheme="gray",
        ),
        settings_notice(KeysState.notice, "keys-notice"),
        rx.cond(
            KeysState.signed_in,
            rx.vstack(rx.foreach(KeysState.rows, key_row), spacing="5", width="100%"),
            rx.cond(KeysState.loaded, signed_out()),
        ),
    )
