"""Tiers: what a user's account entitles them to (allowances, models reserved to signed-in or
pro users); set by the operator until a billing integration does."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, select

from chatapp.errors import NotFoundError, ValidationError
from chatapp.models import User
from chatapp.providers.catalog import Access

Tier = Literal["anonymous", "free", "pro"]
SET_TIERS: tuple[Tier, ...] = ("free", "pro")  # what an operator may set; anonymous is implied
SIGN_IN_REASON = "Sign in to use"
PRO_REASON = "Pro"


def tier_of(user: User | None) -> Tier:
    """The one rule: a visitor not stored yet or an anonymous user is `anonymous`; a signed-in
    user is `free` unless the operator made them `pro`."""
    if user is None or user.is_anonymous:
        return "anonymous"
    return "pro" if user.tier == "pro" else "free"


def access_reason(tier: Tier, access: Access) -> str:
    """Why a tier may not use a model of this access level on the server's keys ("": it may)."""
    if access == "signed_in" and tier == "anonymous":
        return SIGN_IN_REASON
    if access == "pro" and tier != "pro":
        return PRO_REASON
    return ""



def set_tier(session: Session, *, who: str, tier: str) -> User:
    """The operator's switch (and where a billing webhook would plug in): by id or email."""
    if tier not in SET_TIERS:
        raise ValidationError(f"tier must be one of {', '.join(SET_TIERS)}, not {tier!r}")
    user = session.get(User, who)
    if user is None:
        matches = session.exec(select(User).where(
            sa.func.lower(User.email) == who.strip().lower(),
            User.is_anonymous == False)).all()  # noqa: E712
        if len(matches) > 1:
            ids = ", ".join(u.id for u in matches)
            raise ValidationError(f"{len(matches)} users have the email {who}; use an id: {ids}")
        user = matches[0] if matches else None
    if user is None:
        raise NotFoundError(f"no user with the id or email {who!r}")
    if user.is_anonymous:
        raise ValidationError(f"user {user.id} is anonymous: only signed-in users have a tier")
    user.tier = tier
    session.add(user)
    session.flush()
    return user
