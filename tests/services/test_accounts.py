"""Signing in keeps anonymous chats, links by verified email, and sessions can be ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import NotFoundError
from chatapp.models import AuthSession, Identity, Message, Thread, User
from chatapp.services import accounts, identity, threads
from tests.services.helpers import send, settle

DAY = timedelta(days=30)


def anonymous_browser(session: Session) -> identity.NewSession:
    new = identity.create_anonymous_session(session, user_agent="Mozilla/5.0 (X11; Linux) Chrome")
    session.commit()
    return new


def profile(subject: str = "gh-1", email: str | None = "ada@example.org", verified: bool = True,
            provider: str = "github") -> accounts.ExternalProfile:
    return accounts.ExternalProfile(provider, subject, email, verified, "Ada", "https://a/ada.png")


def sign_in(session: Session, prof: accounts.ExternalProfile, token: str | None
            ) -> accounts.SignIn:
    result = accounts.sign_in(session, profile=prof, current_token=token, session_lifetime=DAY)
    session.commit()
    return result


def titles(session: Session, user_id: str) -> list[str]:
    return [t.title for t in threads.list_threads(session, user_id=user_id)]


def test_first_sign_in_keeps_the_anonymous_chats(session: Session, settings: Settings) -> None:
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "my first question")

    result = sign_in(session, profile(), browser.token)

    assert result.created and result.user_id == browser.user_id
    assert titles(session, result.user_id) == ["my first question"]
    user = session.get(User, result.user_id)
    assert user is not None and not user.is_anonymous
    assert (user.email, user.name) == ("ada@example.org", "Ada")
    # The anonymous token is dead; the new one works (no session fixation).
    assert identity.user_for_token(session, token=browser.token) is None
    assert identity.user_for_token(session, token=result.new_session.token) == result.user_id


def test_signing_in_on_a_second_browser_brings_its_chats_into_the_account(
    session: Session, settings: Settings
) -> None:
    first = anonymous_browser(session)
    send(session, settings, first.user_id, "from the laptop")
    account = sign_in(session, profile(), first.token).user_id

    second = anonymous_browser(session)
    turn = send(session, settings, second.user_id, "from the phone")
    settle(session, turn.assistant_message_id)
    result = sign_in(session, profile(), second.token)

    assert result.user_id == account and not result.created and result.moved_threads == 1
    assert sorted(titles(session, account)) == ["from the laptop", "from the phone"]
    assert session.get(User, second.user_id) is None  # the throwaway anonymous user is gone
    page = threads.visible_page(session, user_id=account, thread_id=turn.thread_id)
    assert [m.content for m in page.messages] == ["from the phone", "ok"]


def test_a_verified_email_links_a_new_provider_to_the_same_account(
    session: Session, settings: Settings
) -> None:
    account = sign_in(session, profile(), anonymous_browser(session).token).user_id
    google = profile(subject="google-77", email="ADA@example.org", provider="google")

    result = sign_in(session, google, anonymous_browser(session).token)

    assert result.user_id == account
    methods = {(i.provider, i.subject) for i in session.exec(select(Identity))}
    assert methods == {("github", "gh-1"), ("google", "google-77")}
    assert len(session.exec(select(User).where(User.is_anonymous == False)).all()) == 1  # noqa: E712


def test_an_unverified_email_is_refused_and_changes_nothing(
    session: Session, settings: Settings
) -> None:
    account = sign_in(session, profile(), anonymous_browser(session).token).user_id
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "keep me")
    sessions_before = len(session.exec(select(AuthSession)).all())

    with pytest.raises(accounts.UnverifiedEmailError) as exc:
        accounts.sign_in(session, profile=profile(subject="evil", email="ada@example.org",
                                                  verified=False, provider="oidc"),
                         current_token=browser.token, session_lifetime=DAY)
    session.rollback()

    assert "not verified" in exc.value.user_message
    assert titles(session, browser.user_id) == ["keep me"]
    assert titles(session, account) == []
    assert identity.user_for_token(session, token=browser.token) == browser.user_id
    assert len(session.exec(select(AuthSession)).all()) == sessions_before
    assert session.exec(select(Identity).where(Identity.subject == "evil")).first() is None


def test_a_signed_in_user_can_add_another_sign_in_method(session: Session) -> None:
    result = sign_in(session, profile(), anonymous_browser(session).token)
    other = profile(subject="sso-5", email=None, provider="oidc")

    again = sign_in(session, other, result.new_session.token)

    assert again.user_id == result.user_id and not again.created
    assert [p for p, _ in accounts.profile(session, user_id=result.user_id).methods] == [
        "github", "oidc"]


def test_sessions_are_listed_and_can_be_ended_one_by_one_or_all(session: Session) -> None:
    laptop = sign_in(session, profile(), anonymous_browser(session).token)
    phone = sign_in(session, profile(), anonymous_browser(session).token)
    user_id = laptop.user_id

    listed = accounts.list_sessions(session, user_id=user_id, current_token=phone.new_session.token)
    assert len(listed) == 2 and listed[0].current and not listed[1].current

    accounts.revoke_session(session, user_id=user_id, session_id=listed[1].id)
    session.commit()
    assert identity.user_for_token(session, token=laptop.new_session.token) is None
    assert identity.user_for_token(session, token=phone.new_session.token) == user_id

    assert accounts.revoke_all_sessions(session, user_id=user_id) == 1
    session.commit()
    assert identity.user_for_token(session, token=phone.new_session.token) is None


def test_nobody_can_end_someone_elses_session(session: Session) -> None:
    ada = sign_in(session, profile(), anonymous_browser(session).token)
    bob = sign_in(session, profile(subject="gh-2", email="bob@example.org"),
                  anonymous_browser(session).token)
    ada_session = accounts.list_sessions(session, user_id=ada.user_id, current_token=None)[0]

    with pytest.raises(NotFoundError):
        accounts.revoke_session(session, user_id=bob.user_id, session_id=ada_session.id)
    assert identity.user_for_token(session, token=ada.new_session.token) == ada.user_id


def test_sign_out_ends_only_this_session(session: Session) -> None:
    laptop = sign_in(session, profile(), anonymous_browser(session).token)
    phone = sign_in(session, profile(), anonymous_browser(session).token)
    accounts.sign_out(session, token=laptop.new_session.token)
    session.commit()
    assert identity.user_for_token(session, token=laptop.new_session.token) is None
    assert identity.user_for_token(session, token=phone.new_session.token) == phone.user_id


def test_deleting_an_account_deletes_its_data_and_nobody_elses(
    session: Session, settings: Settings
) -> None:
    ada = sign_in(session, profile(), anonymous_browser(session).token)
    turn = send(session, settings, ada.user_id, "secret plans")
    settle(session, turn.assistant_message_id)
    bob = anonymous_browser(session)
    send(session, settings, bob.user_id, "bob's chat")

    accounts.delete_account(session, user_id=ada.user_id)
    session.commit()

    assert session.get(User, ada.user_id) is None
    assert session.exec(select(Thread).where(Thread.user_id == ada.user_id)).all() == []
    assert session.exec(select(Message).where(Message.thread_id == turn.thread_id)).all() == []
    assert session.exec(select(Identity)).all() == []
    assert identity.user_for_token(session, token=ada.new_session.token) is None
    assert titles(session, bob.user_id) == ["bob's chat"]
