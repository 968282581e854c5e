"""Tiers: one rule for who is anonymous, free or pro; the operator's set-tier (SQLite and
PostgreSQL)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from chatapp import cli
from chatapp.errors import NotFoundError, ValidationError
from chatapp.models import User
from chatapp.services.identity import tiers
from tests.services.helpers import fresh


def test_the_tier_of_a_visitor_an_anonymous_user_and_a_signed_in_one() -> None:
    assert tiers.tier_of(None) == "anonymous"  # a visitor not stored yet
    assert tiers.tier_of(User(is_anonymous=True, tier="pro")) == "anonymous"
    assert tiers.tier_of(User(is_anonymous=False, tier="pro")) == "pro"
    assert tiers.tier_of(User(is_anonymous=False, tier="gold")) == "free"


def test_which_tier_reaches_which_models() -> None:
    assert [tiers.access_reason(t, "public") for t in ("anonymous", "free", "pro")] == [""] * 3
    assert [tiers.access_reason(t, "signed_in") for t in ("anonymous", "free", "pro")] == [
        "Sign in to use", "", ""]
    assert [tiers.access_reason(t, "pro") for t in ("anonymous", "free", "pro")] == [
        "Pro", "Pro", ""]


def _signed_in(session: Session, email: str | None) -> User:
    user = User(is_anonymous=False, email=email)
    session.add(user)
    session.commit()
    return user


def test_the_operator_sets_a_tier_by_email_or_id(session: Session) -> None:
    ada = _signed_in(session, "Ada@example.org")
    anonymous = User()
    session.add(anonymous)
    session.commit()

    assert tiers.set_tier(session, who="ada@EXAMPLE.org", tier="pro").tier == "pro"
    assert tiers.set_tier(session, who=ada.id, tier="free").tier == "free"
    with pytest.raises(ValidationError, match="anonymous"):
        tiers.set_tier(session, who=anonymous.id, tier="pro")
    with pytest.raises(NotFoundError):
        tiers.set_tier(session, who="nobody@example.org", tier="pro")
    with pytest.raises(ValidationError, match="tier must be"):
        tiers.set_tier(session, who=ada.id, tier="anonymous")
    _signed_in(session, "ada@example.org")
    with pytest.raises(ValidationError, match="use an id"):
        tiers.set_tier(session, who="ada@example.org", tier="pro")


def test_the_set_tier_command(
    engine: Engine, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    grace = _signed_in(session, "grace@example.org")
    cli.main(["set-tier", "grace@example.org", "pro"])
    assert "is now on the pro tier" in capsys.readouterr().out
    stored = fresh(engine, User, grace.id)
    assert stored is not None and stored.tier == "pro"

    with pytest.raises(SystemExit, match="no user with the id or email"):
        cli.main(["set-tier", "nobody@example.org", "pro"])
    with pytest.raises(SystemExit):
        cli.main(["set-tier", grace.id, "gold"])  # argparse refuses unknown tiers
    assert "invalid choice" in capsys.readouterr().err


def test_the_set_tier_command_takes_an_id_that_looks_like_an_option(
    engine: Engine, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ids made before new_id() avoided a leading "-" (about 1 in 64 of them) still exist.
    user = User(id="-" + secrets.token_urlsafe(16)[1:], is_anonymous=False, email=None)
    session.add(user)
    session.commit()

    cli.main(["set-tier", user.id, "pro"])

    assert f"User {user.id} is now on the pro tier" in capsys.readouterr().out
    stored = fresh(engine, User, user.id)
    assert stored is not None and stored.tier == "pro"
    with pytest.raises(SystemExit):
        cli.main(["set-tier", user.id, "gold"])
    assert "invalid choice: 'gold'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as help_exit:
        cli.main(["set-tier", "--help"])
    assert help_exit.value.code == 0
    assert "the user's id or email" in capsys.readouterr().out


