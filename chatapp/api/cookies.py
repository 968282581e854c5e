"""The session cookie, as every route that sets it writes it: HttpOnly, SameSite=Lax, Secure
whenever the browser reached the app over https (one rule, which the socket's origin check
uses too)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

from chatapp.config import Settings
from chatapp.services.identity import tokens


def request_headers(scope: Scope) -> dict[str, str]:
    """An ASGI request's headers by lower-case name (ASGI headers are latin-1 bytes)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def served_over_https(settings: Settings, *, scheme: str, headers: Mapping[str, str]) -> bool:
    """CHATAPP_PUBLIC_URL decides when set; else the connection, or the TLS proxy in front
    (`X-Forwarded-Proto: https`)."""
    if settings.public_url:
        return settings.public_https
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return scheme in ("https", "wss") or forwarded == "https"


def session_cookie(token: str, max_age: int, *, secure: bool) -> str:
    """The Set-Cookie value (an empty token with max_age 0 deletes it)."""
    return (
        f"{tokens.COOKIE_NAME}={token}; Path=/; Max-Age={max_age}; HttpOnly; "
        f"SameSite=Lax{'; Secure' if secure else ''}"
    )
