"""Visitors become anonymous users only when they need one, at most so many per address an
hour, and idle anonymous users are removed with their chats (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from chatapp import cache
from chatapp.config import Settings
from chatapp.errors import SessionExpiredError, TooManyVisitorsError
from chatapp.models import AuthSession, Message, Thread, User
from chatapp.models.base import utcnow
from chatapp.services.identity import accounts, tokens, visitors
from tests.services.helpers import send


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts new users per address from zero."""
    limiter = cache.MemoryRateLimiter()
    monkeypatch.setattr(visitors, "get_rate_limiter", lambda: limiter)


def users(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(User)).one()


async def test_a_visitor_token_becomes_one_user_once_even_when_events_race(
    engine: Engine, session: Session, settings: Settings
) -> None:
    token = tokens.mint_visitor_token(settings.secret)
    before = users(session)

    made = await asyncio.gather(*(visitors.become_user(
        settings, token=token, user_agent="Firefox", client_ip="198.51.100.7") for _ in range(5)))

    assert len(set(made)) == 1 and users(session) == before + 1
    user = session.get(User, made[0])
    assert user is not None and user.is_anonymous
    assert tokens.user_for_token(session, token=token) == made[0]


@pytest.mark.parametrize("forged", ["", "no-signature", "abc.def", "x" * 43 + "." + "A" * 22])
async def test_a_token_this_server_did_not_issue_never_becomes_a_user(
    session: Session, settings: Settings, forged: str
) -> None:
    before = users(session)
    with pytest.raises(SessionExpiredError):
        await visitors.become_user(settings, token=forged, user_agent=None, client_ip=None)
    other_server = tokens.mint_visitor_token("another-server-secret-of-enough-length")
    with pytest.raises(SessionExpiredError):
        await visitors.become_user(settings, token=other_server, user_agent=None, client_ip=None)
    assert users(session) == before


async def test_a_signed_out_visitor_token_does_not_come_back_as_a_new_user(
    session: Session, settings: Settings
) -> None:
    token = tokens.mint_visitor_token(settings.secret)
    await visitors.become_user(settings, token=token, user_agent=None, client_ip=None)
    accounts.sign_out(session, token=token)
    session.commit()
    before = users(session)

    with pytest.raises(SessionExpiredError):
        await visitors.become_user(settings, token=token, user_agent=None, client_ip=None)
    assert users(session) == before


async def test_new_anonymous_users_are_limited_per_address_an_hour(
    session: Session, settings: Settings
) -> None:
    limited = settings.model_copy(update={"anonymous_users_per_ip_per_hour": 3})

    async def new_user(address: str) -> str:
        return await visitors.become_user(limited, token=tokens.mint_visitor_token(
            limited.secret), user_agent=None, client_ip=address)

    for _ in range(3):
        await new_user("203.0.113.5")
    with pytest.raises(TooManyVisitorsError) as refused:
        await new_user("203.0.113.5")
    assert "Sign in" in refused.value.user_message
    await new_user("203.0.113.6")  # another address is not affected
    for _ in range(3):  # an IPv6 user holds a whole /64: it counts as one address
        await new_user(f"2001:db8:1:2::{_ + 1}")
    with pytest.raises(TooManyVisitorsError):
        await new_user("2001:db8:1:2:ffff::9")


async def test_idle_anonymous_users_are_removed_with_their_chats_and_active_ones_kept(
    engine: Engine, session: Session, settings: Settings
) -> None:
    long_ago = utcnow() - timedelta(days=45)

    def anonymous(*, idle: bool, signed_in: bool = False) -> str:
        made = tokens.create_anonymous_session(session, user_agent="Firefox")
        user = session.get(User, made.user_id)
        assert user is not None
        user.is_anonymous = not signed_in
        if idle:
            user.created_at = long_ago
        session.add(user)
        session.commit()
        turn = send(session, settings, user.id, "an old question")
        if idle:
            for row in session.exec(select(AuthSession).where(AuthSession.user_id == user.id)):
                row.last_seen_at = long_ago
                session.add(row)
            thread = session.get(Thread, turn.thread_id)
            assert thread is not None
            thread.updated_at = long_ago
            session.add(thread)
            session.commit()
        return user.id

    idle = anonymous(idle=True)
    active = anonymous(idle=False)
    signed_in = anonymous(idle=True, signed_in=True)

    removed = visitors.prune_idle(session, days=30)
    session.commit()

    assert removed == 1
    session.expire_all()
    assert session.get(User, idle) is None
    assert session.exec(select(Thread).where(Thread.user_id == idle)).all() == []
    assert session.exec(select(AuthSession).where(AuthSession.user_id == idle)).all() == []
    assert session.get(User, active) is not None and session.get(User, signed_in) is not None
    assert session.exec(select(func.count()).select_from(Message)).one() == 4  # 2 turns kept
    assert visitors.prune_idle(session, days=30) == 0


async def test_retention_zero_keeps_anonymous_users_forever(
    session: Session, settings: Settings
) -> None:
    made = tokens.create_anonymous_session(session, user_agent=None)
    user = session.get(User, made.user_id)
    assert user is not None
    user.created_at = utcnow() - timedelta(days=4000)
    session.add(user)
    for row in session.exec(select(AuthSession).where(AuthSession.user_id == user.id)):
        row.last_seen_at = user.created_at
        session.add(row)
    session.commit()

    keep = settings.model_copy(update={"anonymous_retention_days": 0})
    assert await visitors.prune(keep) == 0
    assert await visitors.prune(settings) == 1
