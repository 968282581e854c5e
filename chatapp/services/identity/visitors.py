"""Visitors: a browser becomes an anonymous user only when it needs one, at most so many per
address an hour; anonymous users idle for long are removed with their chats."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from chatapp import db
from chatapp.cache import get_rate_limiter
from chatapp.config import Settings
from chatapp.errors import SessionExpiredError, TooManyVisitorsError
from chatapp.models import AuthSession, Thread, User
from chatapp.models.base import utcnow
from chatapp.services.identity import accounts, addresses, tokens

log = logging.getLogger(__name__)
PRUNE_BATCH = 500


async def become_user(settings: Settings, *, token: str, user_agent: str | None,
                      client_ip: str | None) -> str:
    """The anonymous user of a visitor token, made now: the first time the visitor does
    something that needs one (TooManyVisitorsError past the per-address limit)."""
    if not tokens.is_visitor_token(settings.secret, token):
        raise SessionExpiredError("not a token this server issued")
    found = await db.run(lambda s: tokens.standing(s, token=token, secret=settings.secret))
    if found.kind == "live" and found.user_id:  # made a moment ago by a racing event
        return found.user_id
    if found.kind == "ended":  # signed out, revoked or expired
        raise SessionExpiredError("the token's session was revoked or expired")
    if client_ip and not await get_rate_limiter().allow(
        f"new-anonymous:{addresses.address_key(client_ip)}",
        limit=settings.anonymous_users_per_ip_per_hour, window_seconds=3600,
    ):
        raise TooManyVisitorsError(f"new anonymous users from {client_ip} over the limit")
    try:
        return await db.run(lambda s: tokens.adopt_visitor_token(s, token=token,
                                                                   user_agent=user_agent))
    except IntegrityError:
        # Two events of one tab raced: the other one made the user.
        found = await db.run(lambda s: tokens.user_for_token(s, token=token))
        if found is None:
            raise
        return found


def prune_idle(session: Session, *, days: int, now: datetime | None = None) -> int:
    """Remove (chats, sessions, usage and all) up to PRUNE_BATCH anonymous users with no
    activity for `days` days: made before then, no session seen since, no thread touched
    since. Returns how many were removed; the caller commits."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    last_seen = (select(sa.func.max(AuthSession.last_seen_at))
                 .where(col(AuthSession.user_id) == col(User.id)).scalar_subquery())
    last_chat = (select(sa.func.max(Thread.updated_at))
                 .where(col(Thread.user_id) == col(User.id)).scalar_subquery())
    idle = session.exec(
        select(User.id)
        .where(col(User.is_anonymous).is_(True), col(User.created_at) < cutoff,
               sa.or_(last_seen.is_(None), last_seen < cutoff),
               sa.or_(last_chat.is_(None), last_chat < cutoff))
        .order_by(col(User.created_at))
        .limit(PRUNE_BATCH)
    ).all()
    for user_id in idle:
        accounts.delete_account(session, user_id=user_id)
    return len(idle)


async def prune(settings: Settings) -> int:
    """Every idle anonymous user, batch by batch (nothing when retention is 0)."""
    if settings.anonymous_retention_days <= 0:
        return 0
    total = 0
    while removed := await db.run(prune_idle, days=settings.anonymous_retention_days):
        total += removed
        if removed < PRUNE_BATCH:
            break
    if total:
        log.info("removed %d idle anonymous users", total)
    return total
