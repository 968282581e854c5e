"""The API keys page: the signed-in user's own provider keys (save, test, delete).

A pasted key arrives in `save_key`'s form payload and goes straight to the service that
seals it; it is never assigned to a var, not even a backend one. The browser gets back only
the last four characters and the test result.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.providers.catalog import PROVIDERS, key_providers
from chatapp.services.catalog import keys
from chatapp.services.identity import accounts
from chatapp.state.user import VISITOR, current_user_id, reader_or_notice
from chatapp.state.views import when


@dataclasses.dataclass
class KeyRow:
    provider: str = ""
    label: str = ""
    saved: bool = False
    last4: str = ""
    status: str = ""  # "" (not tested) | "ok" | "failed"
    message: str = ""
    tested_at: str = ""


def key_rows(stored: list[keys.KeyInfo]) -> list[KeyRow]:
    """One row per provider that takes a key, with what is stored for it."""
    by_provider = {k.provider: k for k in stored}
    return [key_row(provider, by_provider.get(provider)) for provider in key_providers()]


def key_row(provider: str, info: keys.KeyInfo | None) -> KeyRow:
    """A provider's row: empty, or with its stored key's last digits and last test."""
    row = KeyRow(provider, PROVIDERS[provider].label)
    if info is not None:
        row.saved, row.last4 = True, info.last4
        if info.test_ok is not None:
            row.status = "ok" if info.test_ok else "failed"
            row.message = info.test_message or ""
            row.tested_at = when(info.tested_at)
    return row


class KeysState(rx.State):
    loaded: bool = False
    signed_in: bool = False
    rows: list[KeyRow] = []
    notice: str = ""
    testing: str = ""  # the provider whose key is being checked

    def _put(self, info: keys.KeyInfo) -> None:
        """Show one stored key's new state (its row only)."""
        fresh = key_row(info.provider, info)
        self.rows = [fresh if r.provider == info.provider else r for r in self.rows]

    def _remove(self, provider: str) -> None:
        self.rows = [key_row(provider, None) if r.provider == provider else r
                     for r in self.rows]

    @rx.event
    async def load(self) -> None:
        """on_load of /settings/keys."""
        self.notice, self.testing = "", ""
        user_id = await reader_or_notice(self)
        if user_id is None:
            return
        if user_id == VISITOR:
            self.signed_in = False
        else:
            profile = await db.run(lambda s: accounts.profile(s, user_id=user_id))
            self.signed_in = not profile.is_anonymous
        stored = (await db.run(lambda s: keys.list_keys(s, user_id=user_id))
                  if self.signed_in else [])
        self.rows = key_rows(stored)
        self.loaded = True

    @rx.event
    async def save_key(self, form_data: dict) -> None:
        """Seal and store the pasted key (the form resets, so it also leaves the page)."""
        provider = str(form_data.get("provider", ""))
        self.notice = ""
        settings = get_settings()
        try:
            user_id = await current_user_id(self)
            info = await db.run(lambda s: keys.save_key(
                s, settings=settings, user_id=user_id, provider=provider,
                plaintext=str(form_data.get("key", "")),
            ))
        except ChatappError as exc:
            self.notice = exc.user_message
            return
        self._put(info)

    @rx.event(background=True)
    async def test_key(self, provider: str):
        """Try the caller's stored key for `provider` against the provider (in the
        background: the request can take seconds and must not hold the tab's lock)."""
        async with self:
            if self.testing:
                return
            self.testing, self.notice = provider, ""
        try:
            user_id = await current_user_id(self)
            info = await keys.check_saved_key(get_settings(), user_id=user_id, provider=provider)
        except ChatappError as exc:
            async with self:
                self.testing, self.notice = "", exc.user_message
            return
        async with self:
            self.testing = ""
            self._put(info)

    @rx.event
    async def delete_key(self, provider: str) -> None:
        """Forget the caller's key for `provider`."""
        self.notice = ""
        try:
            user_id = await current_user_id(self)
            await db.run(lambda s: keys.delete_key(s, user_id=user_id, provider=provider))
        except ChatappError as exc:
            self.notice = exc.user_message
            return
        self._remove(provider)
