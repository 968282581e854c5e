"""Anonymous users and their browser sessions (opaque token in, hashed token stored).

A first page load gets a *visitor* token: random, signed with the server secret, and stored
nowhere. Only when the visitor needs a user (see services/visitors.py) does the token get a
session row, under its hash like every other token. The signature means only tokens this server
issued can ever become sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlmodel import Session, select

from chatapp.models import AuthSession, User
from chatapp.models.base import utcnow

COOKIE_NAME = "chatapp_session"
SESSION_LIFETIME = timedelta(days=400)  # browsers cap cookie lifetime near this anyway
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # the raw token: goes into the cookie once, never stored
    user_id: str
    max_age_seconds: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_anonymous_session(session: Session, *, user_agent: str | None = None) -> NewSession:
    """A new anonymous user with a fresh session token."""
    user = User(is_anonymous=True)
    session.add(user)
    session.flush()
    return create_session(session, user_id=user.id, lifetime=SESSION_LIFETIME,
                          user_agent=user_agent)


_VISITOR_CONTEXT = b"chatapp/visitor-token/v1\n"


def _signature(secret: str, token: str) -> str:
    mac = hmac.new(secret.encode(), _VISITOR_CONTEXT + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()


def mint_visitor_token(secret: str) -> str:
    """A token for a first page load: `<random>.<signature>`, nothing stored yet."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return f"{token}.{_signature(secret, token)}"


def is_visitor_token(secret: str, value: str | None) -> bool:
    """Whether this server issued `value` as a visitor token."""
    if not value or len(value) > 200:
        return False
    token, dot, signature = value.rpartition(".")
    return bool(dot and token) and hmac.compare_digest(signature, _signature(secret, token))


def adopt_visitor_token(session: Session, *, token: str, user_agent: str | None) -> str:
    """Make the visitor an anonymous user, the token their session; the user's id."""
    user = User(is_anonymous=True)
    session.add(user)
    session.flush()
    create_session(session, user_id=user.id, lifetime=SESSION_LIFETIME, user_agent=user_agent,
                   token=token)
    session.flush()
    return user.id


def create_session(
    session: Session, *, user_id: str, lifetime: timedelta, user_agent: str | None = None,
    token: str | None = None,
) -> NewSession:
    """A session of `user_id` for `token` (a fresh random one when None); only its hash is
    stored."""
    token = token or secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AuthSession(
            token_hash=hash_token(token),
            user_id=user_id,
            expires_at=utcnow() + lifetime,
            user_agent=(user_agent or "")[:400] or None,
        )
    )
    return NewSession(token, user_id, int(lifetime.total_seconds()))


def _session_row(session: Session, token: str | None) -> AuthSession | None:
    """The session row (live or not) made for a raw token."""
    if not token or len(token) > 200:
        return None
    return session.exec(
        select(AuthSession).where(AuthSession.token_hash == hash_token(token))
    ).first()


def _is_live(row: AuthSession) -> bool:
    return row.revoked_at is None and row.expires_at > utcnow()


def session_for_token(session: Session, *, token: str | None) -> AuthSession | None:
    """The live session row a raw token belongs to."""
    row = _session_row(session, token)
    return row if row is not None and _is_live(row) else None


def user_for_token(session: Session, *, token: str | None) -> str | None:
    """The user id a session token belongs to, if the session is live."""
    row = session_for_token(session, token=token)
    return row.user_id if row else None


def token_from_cookie_header(header: str | None) -> str | None:
    """The raw session token in a Cookie header, if any."""
    return cookie_value(header, COOKIE_NAME)


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header, if any (not empty)."""
    if not header:
        return None
    # Split by hand: http.cookies gives up on the whole header at the first cookie it finds
    # malformed (a JSON value or a bare name set by another app on the same host), which
    # would lose our session and mint a new anonymous user on every page load.
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None


@dataclass(frozen=True, slots=True)
class Standing:
    """What a browser's token is worth: `live` (a session of `user_id`); `visitor` (a token
    this server issued that never became a session); `ended` (signed out, revoked, expired: it
    never comes back); `unknown` (nothing this server knows)."""

    kind: Literal["live", "visitor", "ended", "unknown"]
    user_id: str | None = None

    @property
    def usable(self) -> bool:
        return self.kind in ("live", "visitor")


def standing(session: Session, *, token: str | None, secret: str) -> Standing:
    if not token:
        return Standing("unknown")
    row = _session_row(session, token)  # one read: the answer cannot change half-way
    if row is not None:
        return Standing("live", row.user_id) if _is_live(row) else Standing("ended")
    return Standing("visitor" if is_visitor_token(secret, token) else "unknown")
