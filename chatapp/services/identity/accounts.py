"""Accounts: signing in (linking anonymous chats), sign-in methods, sessions, deletion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp.errors import EmailInUseError, NotFoundError, UnverifiedEmailError
from chatapp.models import (
    ApiKey,
    AuthSession,
    Identity,
    Message,
    Thread,
    UsageRecord,
    User,
    UserSettings,
)
from chatapp.models.base import utcnow
from chatapp.services.identity import tokens

PROVIDER_LABELS = {"github": "GitHub", "google": "Google", "oidc": "Single sign-on"}


def email_verified_claim(value: object) -> bool:
    """Whether a provider's `email_verified` says yes: JSON true, or the string "true" that
    some providers (AWS Cognito) send. Anything else, "false", 1 and a missing claim among
    them, means unverified."""
    return value is True or value == "true"


@dataclass(frozen=True, slots=True)
class ExternalProfile:
    """What a provider told us about the person signing in."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    avatar_url: str | None = None


def oidc_profile(provider: str, claims: Mapping[str, Any]) -> ExternalProfile:
    """An OpenID Connect provider's userinfo (or id_token) claims."""
    return ExternalProfile(
        provider=provider, subject=str(claims["sub"]), email=claims.get("email"),
        email_verified=email_verified_claim(claims.get("email_verified")),
        name=claims.get("name") or claims.get("preferred_username"),
        avatar_url=claims.get("picture"),
    )


def github_profile(user: Mapping[str, Any], emails: list[Mapping[str, Any]]) -> ExternalProfile:
    """GitHub's GET /user and GET /user/emails: the primary address, if GitHub verified it."""
    primary = next((e for e in emails if e.get("primary") is True), None)
    return ExternalProfile(
        provider="github", subject=str(user["id"]),
        email=primary["email"] if primary else None,
        email_verified=primary is not None and email_verified_claim(primary.get("verified")),
        name=user.get("name") or user.get("login"), avatar_url=user.get("avatar_url"),
    )


@dataclass(frozen=True, slots=True)
class SignIn:
    new_session: tokens.NewSession
    user_id: str
    created: bool  # a new account (or the anonymous one upgraded)
    moved_threads: int  # anonymous threads that now belong to the account


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    current: bool


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    is_anonymous: bool
    name: str
    email: str
    avatar_url: str
    methods: list[tuple[str, str]]  # (provider, email or subject)


def sign_in(
    session: Session,
    *,
    profile: ExternalProfile,
    current_token: str | None,
    session_lifetime: timedelta,
    email_link_providers: frozenset[str],
    user_agent: str | None = None,
) -> SignIn:
    """Sign in with an external identity, keeping the browser's anonymous chats.

    The account is, in order: the one the identity is linked to; the account this browser is
    signed in to (adding a sign-in method); the account that already uses the same verified
    email, only if both this provider and one that vouched for that account's email are in
    `email_link_providers` (else EmailInUseError: sign in the old way and add the method);
    else the anonymous account, upgraded. An unverified email is never matched or stored; it
    only refuses creating an account (UnverifiedEmailError). The browser's old session is
    revoked and a new token issued (no session fixation).
    """
    email = _normal(profile.email) if profile.email_verified else None
    current = tokens.session_for_token(session, token=current_token)
    current_user = session.get(User, current.user_id) if current else None

    linked = session.exec(
        select(Identity).where(Identity.provider == profile.provider,
                               Identity.subject == profile.subject)
    ).first()
    target: User | None = session.get(User, linked.user_id) if linked else None
    if target is None and current_user is not None and not current_user.is_anonymous:
        target = current_user  # a signed-in user adds another sign-in method
    if target is None and profile.email and not profile.email_verified:
        raise UnverifiedEmailError(f"{profile.provider} email not verified")
    if target is None and email:
        target = _account_to_link(session, email=email, provider=profile.provider,
                                  trusted=email_link_providers)
    created = False
    if target is None:
        created = True
        if current_user is not None and current_user.is_anonymous:
            target = current_user  # the anonymous account becomes the real one
            target.is_anonymous = False
        else:
            target = User(is_anonymous=False)
    target.email = target.email or email
    target.name = target.name or profile.name
    target.avatar_url = profile.avatar_url or target.avatar_url
    session.add(target)
    session.flush()
    if linked is None:
        session.add(Identity(user_id=target.id, provider=profile.provider,
                             subject=profile.subject, email=email))
    else:
        linked.last_used_at = utcnow()
        session.add(linked)

    moved = 0
    if current_user is not None and current_user.is_anonymous and current_user.id != target.id:
        moved = _move_threads(session, from_user=current_user.id, to_user=target.id)
        session.delete(current_user)  # its sessions go with it (cascade)
    elif current is not None:
        current.revoked_at = utcnow()
        session.add(current)
    new = tokens.create_session(session, user_id=target.id, lifetime=session_lifetime,
                                  user_agent=user_agent)
    session.flush()
    return SignIn(new, target.id, created, moved)


def _normal(email: str | None) -> str | None:
    cleaned = (email or "").strip().lower()
    return cleaned or None


def _account_to_link(session: Session, *, email: str, provider: str,
                     trusted: frozenset[str]) -> User | None:
    """The existing account to sign in to by email, None when no account uses it.

    Linking needs two trusted assertions: this provider's, and the one that put the email on
    the account. Without the second, anyone who got an untrusted provider to vouch for a
    victim's address could create the account first and later read what the victim does in it.
    """
    by_method = select(Identity.user_id).where(Identity.email == email)
    owners = session.exec(
        select(User)
        .where(col(User.is_anonymous).is_(False),
               sa.or_(User.email == email, col(User.id).in_(by_method)))
        .order_by(col(User.created_at), col(User.id))
    ).all()
    if not owners:
        return None
    if provider in trusted:
        vouched = set(session.exec(
            select(Identity.user_id).where(Identity.email == email,
                                           col(Identity.provider).in_(sorted(trusted)))
        ).all())
        for owner in owners:
            if owner.id in vouched:
                return owner
    first = owners[0]
    methods = session.exec(
        select(Identity.provider).where(Identity.user_id == first.id)
        .order_by(col(Identity.created_at))
    ).all()
    raise EmailInUseError(f"{provider} sign-in matches an account by email",
                          methods=tuple(dict.fromkeys(methods)))


def _move_threads(session: Session, *, from_user: str, to_user: str) -> int:
    """Threads, and the spend that produced them, move into the account."""
    session.exec(  # type: ignore[call-overload]
        sa.update(UsageRecord).where(col(UsageRecord.user_id) == from_user)
        .values(user_id=to_user)
    )
    result = session.exec(  # type: ignore[call-overload]
        sa.update(Thread).where(col(Thread.user_id) == from_user).values(user_id=to_user)
    )
    return int(result.rowcount or 0)


def profile(session: Session, *, user_id: str) -> Profile:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user not found")
    methods = session.exec(
        select(Identity).where(Identity.user_id == user_id).order_by(col(Identity.created_at))
    ).all()
    return Profile(
        user.id, user.is_anonymous, user.name or "", user.email or "", user.avatar_url or "",
        [(m.provider, m.email or m.subject) for m in methods],
    )


def list_sessions(session: Session, *, user_id: str, current_token: str | None
                  ) -> list[SessionInfo]:
    """The user's live sessions, the current one first."""
    current_hash = tokens.hash_token(current_token) if current_token else ""
    rows = session.exec(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None),
               AuthSession.expires_at > utcnow())
        .order_by(col(AuthSession.last_seen_at).desc())
    ).all()
    infos = [
        SessionInfo(r.id, r.created_at, r.last_seen_at, r.user_agent or "Unknown browser",
                    r.token_hash == current_hash)
        for r in rows
    ]
    return sorted(infos, key=lambda i: not i.current)


def revoke_session(session: Session, *, user_id: str, session_id: str) -> None:
    row = session.get(AuthSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError("session not found")
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)


def revoke_all_sessions(session: Session, *, user_id: str) -> int:
    result = session.exec(  # type: ignore[call-overload]
        sa.update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def sign_out(session: Session, *, token: str | None) -> None:
    row = tokens.session_for_token(session, token=token)
    if row is not None:
        row.revoked_at = utcnow()
        session.add(row)


def delete_account(session: Session, *, user_id: str) -> None:
    """Delete the user and everything they own, for real."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user not found")
    thread_ids = select(Thread.id).where(Thread.user_id == user_id)
    session.exec(sa.delete(Message).where(col(Message.thread_id).in_(thread_ids)))  # type: ignore[call-overload]
    session.exec(sa.delete(Thread).where(col(Thread.user_id) == user_id))  # type: ignore[call-overload]
    for table in (Identity, UsageRecord, ApiKey, UserSettings):
        session.exec(sa.delete(table).where(table.user_id == user_id))  # type: ignore[call-overload, attr-defined]
    session.exec(sa.delete(AuthSession).where(col(AuthSession.user_id) == user_id))  # type: ignore[call-overload]
    session.delete(user)


def touch_session(session: Session, *, token: str | None) -> None:
    """Record activity (at most once a minute per session, to keep writes rare)."""
    row = tokens.session_for_token(session, token=token)
    if row is not None and utcnow() - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = utcnow()
        session.add(row)
