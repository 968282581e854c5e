"""The account page: profile, sign-in methods, sessions, sign-out everywhere, deletion."""

from __future__ import annotations

import dataclasses

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.services.identity import accounts, tokens
from chatapp.services.identity.sign_in import configured_providers
from chatapp.state.user import (
    VISITOR,
    current_user_id,
    forget_cached_sessions,
    reader_or_notice,
    user_or_notice,
)
from chatapp.state.views import when

DELETE_CONFIRMATION = "delete my account"
ACCOUNT_PATH = "/settings/account"


@dataclasses.dataclass
class SessionRow:
    id: str = ""
    device: str = ""
    created: str = ""
    last_seen: str = ""
    current: bool = False


@dataclasses.dataclass
class MethodRow:
    provider: str = ""
    detail: str = ""


@dataclasses.dataclass
class AddMethod:
    """A configured provider the account has no sign-in method at yet."""

    id: str = ""
    label: str = ""
    href: str = ""


def _reload_home() -> rx.event.EventSpec:
    """After sessions changed: a real page load, so the new cookie reaches the socket."""
    forget_cached_sessions()
    return rx.call_script("window.location.href = '/'")


def _device(user_agent: str) -> str:
    for name in ("Firefox", "Edg", "Chrome", "Safari"):
        if name in user_agent:
            browser = {"Edg": "Edge"}.get(name, name)
            break
    else:
        browser = "Browser"
    for system in ("Windows", "Mac OS X", "Android", "iPhone", "Linux"):
        if system in user_agent:
            return f"{browser} on {system.replace('Mac OS X', 'macOS')}"
    return browser


class AccountState(rx.State):
    loaded: bool = False
    signed_in: bool = False
    name: str = ""
    email: str = ""
    avatar_url: str = ""
    methods: list[MethodRow] = []
    add_methods: list[AddMethod] = []
    sessions: list[SessionRow] = []
    notice: str = ""

    def _token(self) -> str | None:
        return tokens.token_from_cookie_header(self.router.headers.cookie)

    @rx.event
    async def load(self) -> None:
        self.notice = ""
        user_id = await reader_or_notice(self)
        if user_id is None:
            return
        if user_id == VISITOR:  # a first visit: a guest with nothing stored yet
            self.signed_in, self.name, self.email, self.avatar_url = False, "", "", ""
            self.methods, self.add_methods, self.sessions = [], [], []
            self.loaded = True
            return
        token = self._token()
        profile = await db.run(lambda s: accounts.profile(s, user_id=user_id))
        sessions = await db.run(
            lambda s: accounts.list_sessions(s, user_id=user_id, current_token=token)
        )
        configured = configured_providers(get_settings())
        labels = {p.id: p.label for p in configured}
        linked = {p for p, _ in profile.methods}
        self.signed_in = not profile.is_anonymous
        self.name, self.email, self.avatar_url = profile.name, profile.email, profile.avatar_url
        self.methods = [MethodRow(labels.get(p, accounts.PROVIDER_LABELS.get(p, p)), d)
                        for p, d in profile.methods]
        # Signing in from this page while signed in links the method (accounts.sign_in).
        self.add_methods = [AddMethod(p.id, p.label, f"/auth/login/{p.id}?next={ACCOUNT_PATH}")
                            for p in configured if p.id not in linked]
        self.sessions = [
            SessionRow(s.id, _device(s.user_agent), when(s.created_at), when(s.last_seen_at),
                       s.current)
            for s in sessions
        ]
        self.loaded = True

    @rx.event
    async def revoke_session(self, session_id: str):
        try:
            user_id = await current_user_id(self)
            await db.run(lambda s: accounts.revoke_session(s, user_id=user_id,
                                                           session_id=session_id))
        except ChatappError as exc:
            self.notice = exc.user_message
            return None
        forget_cached_sessions()
        if any(row.id == session_id and row.current for row in self.sessions):
            return rx.call_script("window.location.href = '/'")
        return AccountState.load

    @rx.event
    async def sign_out(self):
        """End this browser's session; the next page load starts a fresh anonymous one."""
        token = self._token()
        await db.run(lambda s: accounts.sign_out(s, token=token))
        return _reload_home()

    @rx.event
    async def sign_out_everywhere(self):
        user_id = await user_or_notice(self)
        if user_id is None:
            return None
        await db.run(lambda s: accounts.revoke_all_sessions(s, user_id=user_id))
        return _reload_home()

    @rx.event
    async def delete_account(self, form_data: dict):
        if str(form_data.get("confirm", "")).strip().lower() != DELETE_CONFIRMATION:
            self.notice = f"Type “{DELETE_CONFIRMATION}” to confirm. Nothing was deleted."
            return None
        user_id = await user_or_notice(self)
        if user_id is None:
            return None
        await db.run(lambda s: accounts.delete_account(s, user_id=user_id))
        return _reload_home()
