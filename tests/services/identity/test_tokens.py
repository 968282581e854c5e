"""Anonymous sessions on SQLite and PostgreSQL: hashed tokens, lookups, and cookie parsing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from chatapp.models import AuthSession, User
from chatapp.models.base import utcnow
from chatapp.services.identity import tokens


def _all_stored_values(engine: Engine) -> list[str]:
    """Every value in every table, as text, read on a new connection."""
    with engine.connect() as conn:
        return [
            str(value)
            for table in SQLModel.metadata.sorted_tables
            for row in conn.execute(sa.select(table))
            for value in row
        ]


def test_only_the_sha256_of_the_token_is_stored(engine: Engine, session: Session) -> None:
    new = tokens.create_anonymous_session(session, user_agent="Mozilla/5.0 Test")
    session.commit()

    assert len(new.token) >= 40
    assert new.max_age_seconds == int(tokens.SESSION_LIFETIME.total_seconds())
    row = session.exec(select(AuthSession)).one()
    assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert row.user_id == new.user_id
    assert row.user_agent == "Mozilla/5.0 Test"
    values = _all_stored_values(engine)
    assert row.token_hash in values
    assert not any(new.token in value for value in values)
    user = session.get(User, new.user_id)
    assert user is not None and user.is_anonymous


def test_each_visitor_gets_their_own_user_and_token(session: Session) -> None:
    a = tokens.create_anonymous_session(session)
    b = tokens.create_anonymous_session(session)
    session.commit()
    assert a.token != b.token and a.user_id != b.user_id
    assert tokens.user_for_token(session, token=a.token) == a.user_id
    assert tokens.user_for_token(session, token=b.token) == b.user_id


def test_user_for_token_rejects_unknown_revoked_and_expired_sessions(
    session: Session,
) -> None:
    live = tokens.create_anonymous_session(session)
    revoked = tokens.create_anonymous_session(session)
    expired = tokens.create_anonymous_session(session)
    session.commit()
    for new, field, value in [
        (revoked, "revoked_at", utcnow()),
        (expired, "expires_at", utcnow() - timedelta(seconds=1)),
    ]:
        row = session.exec(
            select(AuthSession).where(AuthSession.user_id == new.user_id)
        ).one()
        setattr(row, field, value)
        session.add(row)
    session.commit()
    session.expire_all()

    assert tokens.user_for_token(session, token=live.token) == live.user_id
    assert tokens.user_for_token(session, token=revoked.token) is None
    assert tokens.user_for_token(session, token=expired.token) is None
    assert tokens.user_for_token(session, token="not-a-token") is None
    assert tokens.user_for_token(session, token="") is None
    assert tokens.user_for_token(session, token=None) is None
    assert tokens.user_for_token(session, token=live.token + "x" * 300) is None
    # The stored hash itself is not a token: a leaked table does not log anyone in.
    live_hash = tokens.hash_token(live.token)
    assert tokens.user_for_token(session, token=live_hash) is None


def test_a_browser_cookie_round_trips_to_the_user(session: Session) -> None:
    new = tokens.create_anonymous_session(session)
    session.commit()
    header = f"theme=dark; {tokens.COOKIE_NAME}={new.token}; _ga=GA1.1.123"
    token = tokens.token_from_cookie_header(header)
    assert token == new.token
    assert tokens.user_for_token(session, token=token) == new.user_id


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("chatapp_session=abc123", "abc123"),
        ("a=1; chatapp_session=abc123; b=2", "abc123"),
        ("  chatapp_session = abc123 ;", "abc123"),
        ('chatapp_session="abc123"', "abc123"),
        # Cookies other apps on the same host set must not hide ours.
        ('prefs={"dark":true}; chatapp_session=abc123', "abc123"),
        ("flag; chatapp_session=abc123", "abc123"),
        ("x=a b; chatapp_session=abc123", "abc123"),
        ("x=caf\u00e9; chatapp_session=abc123", "abc123"),
        ('x="unterminated; chatapp_session=abc123', "abc123"),
        ("not_chatapp_session=abc123", None),
        ("chatapp_session_old=abc123", None),
        ("chatapp_session=", None),
        ("chatapp_session", None),
        ("", None),
        (None, None),
        (";;;", None),
        ("\x00;;=;", None),
        ("=====", None),
    ],
)
def test_token_from_cookie_header(header: str | None, token: str | None) -> None:
    assert tokens.token_from_cookie_header(header) == token
