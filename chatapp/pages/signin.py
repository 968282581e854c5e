"""`/signin`: one button per configured sign-in provider."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.react_router.dom import ReactRouterLink

from chatapp.state.signin import ProviderButton, SignInState


def provider_button(provider: ProviderButton) -> rx.Component:
    # A document navigation, not client-side routing: the server must answer (redirect to the
    # provider), and the new HttpOnly cookie only reaches the socket with a real page load.
    return ReactRouterLink.create(
        rx.button("Continue with ", provider.label, size="3", width="100%", variant="outline"),
        to=provider.href, reload_document=True, data_testid="provider-" + provider.id,
        style={"width": "100%"},
    )


def page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("Sign in to chatapp", size="6"),
                rx.text("Keep your chats on every device. Chats you started here come with you.",
                        color_scheme="gray", size="2"),
                rx.cond(
                    SignInState.error != "",
                    rx.callout(SignInState.error, icon="triangle-alert", color_scheme="red",
                               size="1", data_testid="sign-in-error", width="100%"),
                ),
                rx.foreach(SignInState.providers, provider_button),
                rx.cond(
                    SignInState.providers.length() == 0,
                    rx.text("No sign-in provider is configured on this server "
                            "(see docs/auth.md).", size="2", color_scheme="gray"),
                ),
                rx.link("← Back to chats", href="/", size="2"),
                spacing="4", width="340px",
            ),
            size="4",
        ),
        height="100vh",
    )
