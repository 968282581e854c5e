"""`/settings/account`: profile, sign-in methods, sessions, sign out, delete the account.

The body only: the route table puts it in the settings frame."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.react_router.dom import ReactRouterLink

from chatapp.components.settings_nav import settings_notice, settings_section
from chatapp.state.account import (
    DELETE_CONFIRMATION,
    AccountState,
    AddMethod,
    MethodRow,
    SessionRow,
)


def method_row(method: MethodRow) -> rx.Component:
    return rx.hstack(rx.badge(method.provider), rx.text(method.detail, size="2"),
                     align="center", data_testid="sign-in-method")


def add_method_button(method: AddMethod) -> rx.Component:
    # A document navigation: the sign-in route redirects to the provider, and the new cookie
    # reaches the socket only with a real page load.
    return ReactRouterLink.create(
        rx.button(rx.icon("plus", size=16), "Add ", method.label, size="2", variant="outline"),
        to=method.href, reload_document=True, data_testid="add-method-" + method.id,
    )


def sign_in_methods() -> rx.Component:
    return settings_section(
        "Sign-in methods",
        rx.foreach(AccountState.methods, method_row),
        rx.cond(
            AccountState.add_methods.length() > 0,
            rx.vstack(
                rx.text("Add a sign-in method", weight="medium", size="2"),
                rx.text("Sign in once with another provider to use it for this account too.",
                        size="1", color_scheme="gray"),
                rx.flex(rx.foreach(AccountState.add_methods, add_method_button), wrap="wrap",
                        spacing="2"),
                spacing="2", width="100%", padding_top="8px", data_testid="add-sign-in-method",
            ),
        ),
    )


def session_row(row: SessionRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(rx.text(row.device, weight="medium", size="2"),
                      rx.cond(row.current, rx.badge("This browser", color_scheme="green"))),
            rx.text("Signed in ", row.created, " · last active ", row.last_seen, size="1",
                    color_scheme="gray"),
            spacing="1",
        ),
        rx.spacer(),
        rx.button("Sign out", size="1", variant="soft", color_scheme="gray",
                  on_click=AccountState.revoke_session(row.id), data_testid="revoke-session"),
        width="100%", align="center", data_testid="session-row",
    )


def profile() -> rx.Component:
    return rx.hstack(
        rx.avatar(src=AccountState.avatar_url, fallback="☺", size="5", radius="full"),
        rx.vstack(
            rx.heading(rx.cond(AccountState.name != "", AccountState.name, "Guest"), size="5",
                       data_testid="account-name"),
            rx.text(rx.cond(AccountState.email != "", AccountState.email,
                            "Not signed in: your chats live in this browser only."),
                    color_scheme="gray", size="2", data_testid="account-email"),
            spacing="1",
        ),
        align="center", spacing="4",
    )


def danger_zone() -> rx.Component:
    return settings_section(
        "Delete account",
        rx.text("Deletes your account, every chat and every session. This cannot be undone.",
                size="2", color_scheme="gray"),
        rx.form(
            rx.hstack(
                rx.input(name="confirm", placeholder=f"Type “{DELETE_CONFIRMATION}”",
                         width="260px", data_testid="delete-confirm"),
                rx.button("Delete my account and data", type="submit", color_scheme="red",
                          data_testid="delete-account"),
                wrap="wrap",
            ),
            on_submit=AccountState.delete_account,
            reset_on_submit=True,
        ),
    )


def body() -> rx.Component:
    return rx.fragment(
        settings_notice(AccountState.notice, "account-notice"),
        profile(),
        rx.link("Your own API keys →", href="/settings/keys", size="2", data_testid="keys-link"),
        rx.cond(
            AccountState.signed_in,
            sign_in_methods(),
            rx.link(rx.button("Sign in to keep your chats", data_testid="sign-in-link"),
                    href="/signin?next=/settings/account"),
        ),
        rx.cond(
            AccountState.signed_in,
            settings_section(
                "Sessions",
                rx.foreach(AccountState.sessions, session_row),
                rx.hstack(
                    rx.button("Sign out", variant="soft", on_click=AccountState.sign_out,
                              data_testid="sign-out"),
                    rx.button("Sign out everywhere", variant="soft", color_scheme="red",
                              on_click=AccountState.sign_out_everywhere,
                              data_testid="sign-out-everywhere"),
                ),
            ),
        ),
        danger_zone(),
    )
