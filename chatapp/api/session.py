"""Issues the session cookie (HttpOnly, SameSite=Lax) on page loads: a visitor token, with
nothing stored until the visitor needs a user (services/visitors.py)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapp.api.cookies import request_headers, served_over_https, session_cookie
from chatapp.api.security import EVENT_PATH
from chatapp.config import get_settings
from chatapp.db import session_scope
from chatapp.services.identity import accounts, tokens

# Requests that never need a session: Reflex's socket, uploads, static assets.
SKIP_PREFIXES = (
    EVENT_PATH, "/_upload", "/_health", "/ping", "/assets/", "/_next/", "/favicon", "/auth/",
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
        headers = request_headers(scope)
        if "text/html" not in headers.get("accept", ""):
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        secret = settings.secret
        token = tokens.token_from_cookie_header(headers.get("cookie"))
        if token and await asyncio.to_thread(_usable, token, secret):
            await self.app(scope, receive, _not_stored(send))
            return
        # A first visit (or a session that ended): a visitor token, and nothing in the
        # database. Crawlers and scripts that load pages leave no trace behind.
        fresh = tokens.mint_visitor_token(secret)
        cookie = session_cookie(
            fresh, int(tokens.SESSION_LIFETIME.total_seconds()),
            secure=served_over_https(settings, scheme=scope.get("scheme", "http"),
                                     headers=headers))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, _not_stored(send_with_cookie))


def _not_stored(send: Send) -> Send:
    """Pages are static files with a Last-Modified date, which browsers may reuse from their
    cache without asking: then a page load after signing out would bring no new cookie, and
    the tab would connect with the ended session. Every page load must reach this middleware."""

    async def send_uncached(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            message["headers"] = [*kept, (b"cache-control", b"no-store")]
        await send(message)

    return send_uncached


def _usable(token: str, secret: str) -> bool:
    """A live session (its activity recorded), or a visitor token this server issued that
    never became a session. A session that ended is not: the browser gets a new token."""
    with session_scope() as session:
        found = tokens.standing(session, token=token, secret=secret)
        if found.kind == "live":
            accounts.touch_session(session, token=token)  # "last active" on the account page
        return found.usable
