"""Issues the anonymous session cookie (HttpOnly, SameSite=Lax) on page loads."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapp.db import session_scope
from chatapp.services import accounts, identity

# Requests that never need a session: Reflex's socket, uploads, static assets.
SKIP_PREFIXES = (
    "/_event", "/_upload", "/_health", "/ping", "/assets/", "/_next/", "/favicon", "/auth/",
)


class SessionCookieMiddleware:
    """Gives every browser that loads a page a live session before its websocket opens.

    The websocket's headers are frozen when it connects, so the cookie must already be
    there: setting it on the HTML response is the one moment that works.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope["path"].startswith(
            SKIP_PREFIXES
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "text/html" not in headers.get("accept", ""):
            await self.app(scope, receive, send)
            return
        token = identity.token_from_cookie_header(headers.get("cookie"))
        if token and await asyncio.to_thread(_is_live, token):
            await self.app(scope, receive, send)
            return
        new = await asyncio.to_thread(_create, headers.get("user-agent"))
        secure = scope.get("scheme") == "https" or headers.get("x-forwarded-proto") == "https"
        cookie = (
            f"{identity.COOKIE_NAME}={new.token}; Path=/; Max-Age={new.max_age_seconds}; "
            f"HttpOnly; SameSite=Lax{'; Secure' if secure else ''}"
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_live(token: str) -> bool:
    with session_scope() as session:
        if identity.user_for_token(session, token=token) is None:
            return False
        accounts.touch_session(session, token=token)  # "last active" on the account page
        return True


def _create(user_agent: str | None) -> identity.NewSession:
    with session_scope() as session:
        return identity.create_anonymous_session(session, user_agent=user_agent)
