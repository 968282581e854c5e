"""The sign-in page: a button per configured provider, and why the last attempt failed."""

from __future__ import annotations

import dataclasses

import reflex as rx

from chatapp.config import get_settings
from chatapp.services.identity.sign_in import configured_providers, error_message, safe_next


@dataclasses.dataclass
class ProviderButton:
    id: str = ""
    label: str = ""
    href: str = ""


class SignInState(rx.State):
    providers: list[ProviderButton] = []
    error: str = ""

    @rx.event
    def load(self) -> None:
        query = self.router.url.query_parameters
        next_path = safe_next(query.get("next"))
        configured = configured_providers(get_settings())
        self.providers = [
            ProviderButton(p.id, p.label, f"/auth/login/{p.id}?next={next_path}")
            for p in configured
        ]
        self.error = error_message(query.get("error", ""), use=query.get("use", ""),
                                   add=query.get("add", ""), providers=configured)
