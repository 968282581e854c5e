"""Signing in keeps anonymous chats, links by email only when trusted, and sessions end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import ChatappError, EmailInUseError, NotFoundError, UnverifiedEmailError
from chatapp.models import AuthSession, Identity, Message, Thread, User
from chatapp.services.chat import branches, threads
from chatapp.services.identity import accounts, tokens
from chatapp.services.identity.sign_in import SignInProvider, error_message
from tests.services.helpers import send, settle

DAY = timedelta(days=30)
NO_LINKING: frozenset[str] = frozenset()  # the default: no provider links by email


def anonymous_browser(session: Session) -> tokens.NewSession:
    new = tokens.create_anonymous_session(session, user_agent="Mozilla/5.0 (X11; Linux) Chrome")
    session.commit()
    return new


def profile(subject: str = "gh-1", email: str | None = "ada@example.org", verified: bool = True,
            provider: str = "github") -> accounts.ExternalProfile:
    return accounts.ExternalProfile(provider, subject, email, verified, "Ada", "https://a/ada.png")


def sign_in(session: Session, prof: accounts.ExternalProfile, token: str | None,
            trusted: frozenset[str] = NO_LINKING) -> accounts.SignIn:
    result = accounts.sign_in(session, profile=prof, current_token=token, session_lifetime=DAY,
                              email_link_providers=trusted)
    session.commit()
    return result


def refused(session: Session, prof: accounts.ExternalProfile, token: str | None,
            trusted: frozenset[str] = NO_LINKING) -> ChatappError:
    """Sign in expecting a refusal; the transaction is rolled back, as the route's is."""
    with pytest.raises(ChatappError) as exc:
        accounts.sign_in(session, profile=prof, current_token=token, session_lifetime=DAY,
                         email_link_providers=trusted)
    session.rollback()
    return exc.value


def counts(session: Session) -> tuple[int, int, int]:
    return (len(session.exec(select(User)).all()), len(session.exec(select(Identity)).all()),
            len(session.exec(select(AuthSession)).all()))


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
    assert tokens.user_for_token(session, token=browser.token) is None
    assert tokens.user_for_token(session, token=result.new_session.token) == result.user_id


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
    page = branches.visible_page(session, user_id=account, thread_id=turn.thread_id)
    assert [m.content for m in page.messages] == ["from the phone", "ok"]


def test_email_verified_is_only_json_true_or_the_string_true() -> None:
    assert [accounts.email_verified_claim(v) for v in (True, "true")] == [True, True]
    refused_claims = [False, "false", "False", "True", "TRUE", " true", "0", "1", 1, 1.0, "yes",
                      "", None, [], {"verified": True}]
    assert [v for v in refused_claims if accounts.email_verified_claim(v)] == []
    # The providers' answers go through that rule: OIDC claims (also a missing one) and GitHub.
    claims = [{"sub": "s", "email": "a@b.c", "email_verified": v} for v in refused_claims]
    assert [c for c in claims if accounts.oidc_profile("oidc", c).email_verified] == []
    assert not accounts.oidc_profile("oidc", {"sub": "s", "email": "a@b.c"}).email_verified
    assert accounts.oidc_profile("oidc", {"sub": "s", "email_verified": "true"}).email_verified
    user = {"id": 7, "login": "ada"}
    github = [accounts.github_profile(user, [{"email": "a@b.c", "primary": True, "verified": v}])
              for v in (True, False, "false", None)]
    assert [(g.email, g.email_verified) for g in github] == [
        ("a@b.c", True), ("a@b.c", False), ("a@b.c", False), ("a@b.c", False)]


def test_a_trusted_provider_links_into_the_account_with_the_same_email(
    session: Session, settings: Settings
) -> None:
    both = frozenset({"github", "google"})
    account = sign_in(session, profile(), anonymous_browser(session).token, both).user_id
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "asked before signing in with Google")
    google = profile(subject="google-77", email="ADA@example.org", provider="google")

    result = sign_in(session, google, browser.token, both)

    assert result.user_id == account and not result.created and result.moved_threads == 1
    assert titles(session, account) == ["asked before signing in with Google"]
    methods = {(i.provider, i.subject) for i in session.exec(select(Identity))}
    assert methods == {("github", "gh-1"), ("google", "google-77")}
    assert len(session.exec(select(User).where(User.is_anonymous == False)).all()) == 1  # noqa: E712


def test_by_default_the_same_email_from_another_provider_is_refused_and_nothing_moves(
    session: Session, settings: Settings
) -> None:
    account = sign_in(session, profile(provider="oidc", subject="sso-1"),
                      anonymous_browser(session).token).user_id
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "stays in this browser")
    before = counts(session)

    error = refused(session, profile(subject="gh-9", email="Ada@Example.org"), browser.token)

    assert isinstance(error, EmailInUseError)
    assert error.methods == ("oidc",)  # the way in, by provider id only
    assert "already exists" in error.user_message
    assert counts(session) == before  # no user, no sign-in method, no session created
    assert session.exec(select(Identity).where(Identity.subject == "gh-9")).first() is None
    assert titles(session, browser.user_id) == ["stays in this browser"]
    assert titles(session, account) == []
    assert tokens.user_for_token(session, token=browser.token) == browser.user_id
    user = session.get(User, browser.user_id)
    assert user is not None and user.is_anonymous


def test_a_provider_not_in_the_setting_is_refused_even_when_another_is_trusted(
    session: Session
) -> None:
    sign_in(session, profile(provider="google", subject="g-1"), anonymous_browser(session).token,
            frozenset({"google"}))
    browser = anonymous_browser(session)
    before = counts(session)

    error = refused(session, profile(subject="gh-9"), browser.token, frozenset({"google"}))

    assert isinstance(error, EmailInUseError) and error.methods == ("google",)
    assert counts(session) == before


def test_a_trusted_provider_does_not_link_into_an_email_only_an_untrusted_one_vouched_for(
    session: Session, settings: Settings
) -> None:
    # Someone got an untrusted provider to vouch for Ada's address and made the account first;
    # Ada, signing in with a trusted provider, must not land in an account they can read.
    squatter = sign_in(session, profile(provider="oidc", subject="squatter"),
                       anonymous_browser(session).token).user_id
    ada = anonymous_browser(session)
    send(session, settings, ada.user_id, "private to Ada")

    error = refused(session, profile(provider="google", subject="g-ada"), ada.token,
                    frozenset({"google"}))

    assert isinstance(error, EmailInUseError) and error.methods == ("oidc",)
    assert titles(session, squatter) == []
    assert titles(session, ada.user_id) == ["private to Ada"]


def test_an_address_known_only_from_a_linked_method_is_also_matched(session: Session) -> None:
    first = sign_in(session, profile(provider="oidc", subject="sso-1", email="ada@work.example"),
                    anonymous_browser(session).token)
    sign_in(session, profile(subject="gh-1", email="ada@home.example"), first.new_session.token)
    browser = anonymous_browser(session)
    before = counts(session)

    error = refused(session, profile(provider="google", subject="g-1", email="ada@home.example"),
                    browser.token)

    assert isinstance(error, EmailInUseError)
    assert error.methods == ("oidc", "github")
    assert counts(session) == before


def test_an_unverified_email_is_refused_and_changes_nothing(
    session: Session, settings: Settings
) -> None:
    account = sign_in(session, profile(), anonymous_browser(session).token).user_id
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "keep me")
    sessions_before = len(session.exec(select(AuthSession)).all())

    error = refused(session, profile(subject="evil", email="ada@example.org", verified=False,
                                     provider="oidc"), browser.token, frozenset({"oidc"}))

    # The same refusal whether an account has the address or not: nothing to learn from it.
    assert isinstance(error, UnverifiedEmailError)
    assert "not verified" in error.user_message
    assert titles(session, browser.user_id) == ["keep me"]
    assert titles(session, account) == []
    assert tokens.user_for_token(session, token=browser.token) == browser.user_id
    assert len(session.exec(select(AuthSession)).all()) == sessions_before
    assert session.exec(select(Identity).where(Identity.subject == "evil")).first() is None


def test_a_false_string_is_not_verified_and_is_never_used_to_find_an_account(
    session: Session, settings: Settings
) -> None:
    trusted = frozenset({"github", "oidc"})
    account = sign_in(session, profile(), anonymous_browser(session).token, trusted).user_id
    browser = anonymous_browser(session)
    send(session, settings, browser.user_id, "keep me here")
    before = counts(session)
    claims = {"sub": "evil", "email": "ada@example.org", "email_verified": "false"}

    error = refused(session, accounts.oidc_profile("oidc", claims), browser.token, trusted)

    assert isinstance(error, UnverifiedEmailError)
    assert counts(session) == before
    assert titles(session, account) == [] and titles(session, browser.user_id) == ["keep me here"]
    assert tokens.user_for_token(session, token=browser.token) == browser.user_id


def test_a_signed_in_user_can_add_another_sign_in_method(session: Session) -> None:
    result = sign_in(session, profile(), anonymous_browser(session).token)
    other = profile(subject="sso-5", email=None, provider="oidc")

    again = sign_in(session, other, result.new_session.token)

    assert again.user_id == result.user_id and not again.created
    assert [p for p, _ in accounts.profile(session, user_id=result.user_id).methods] == [
        "github", "oidc"]


def test_a_signed_in_user_adds_the_method_to_their_own_account_whatever_its_email(
    session: Session,
) -> None:
    bob = sign_in(session, profile(subject="gh-2", email="bob@example.org"),
                  anonymous_browser(session).token)
    ada = sign_in(session, profile(provider="oidc", subject="sso-ada"),
                  anonymous_browser(session).token)
    # Bob signs in with a Google account that says it is Ada's address: explicit linking goes
    # to the account the browser is signed in to, never to the account that owns the email.
    google = profile(provider="google", subject="g-bob", email="ada@example.org")

    result = sign_in(session, google, bob.new_session.token, frozenset({"google", "oidc"}))

    assert result.user_id == bob.user_id and not result.created
    assert [p for p, _ in accounts.profile(session, user_id=ada.user_id).methods] == ["oidc"]
    assert [p for p, _ in accounts.profile(session, user_id=bob.user_id).methods] == [
        "github", "google"]


def test_a_signed_in_user_can_add_a_method_whose_email_is_unverified_without_keeping_it(
    session: Session,
) -> None:
    account = sign_in(session, profile(), anonymous_browser(session).token)
    sso = profile(provider="oidc", subject="sso-5", email="unchecked@example.org", verified=False)

    result = sign_in(session, sso, account.new_session.token)

    assert result.user_id == account.user_id
    linked = session.exec(select(Identity).where(Identity.subject == "sso-5")).one()
    assert (linked.user_id, linked.email) == (account.user_id, None)


def test_a_linked_method_signs_in_even_when_its_email_is_no_longer_verified(
    session: Session,
) -> None:
    account = sign_in(session, profile(), anonymous_browser(session).token).user_id
    changed = profile(email="new-address@example.org", verified=False)

    result = sign_in(session, changed, anonymous_browser(session).token)

    assert result.user_id == account and not result.created
    user = session.get(User, account)
    assert user is not None and user.email == "ada@example.org"  # the unverified one unused


SSO = SignInProvider("oidc", "Company SSO", "id", "secret", "https://sso.example", "openid")
GITHUB = SignInProvider("github", "GitHub", "id", "secret", "", "read:user")


def test_the_refusal_names_the_way_in_by_its_label() -> None:
    message = error_message("email_in_use", use="oidc", add="github", providers=[SSO, GITHUB])
    assert message == ("An account with this email address already exists. Sign in with "
                       "Company SSO, as you did before, then add GitHub from your account page.")


def test_a_crafted_refusal_link_cannot_put_its_own_words_on_the_page() -> None:
    generic = error_message("email_in_use", providers=[SSO, GITHUB])
    crafted = error_message("email_in_use", use="Evil Corp,google", add="<b>x</b>",
                            providers=[SSO, GITHUB])
    assert crafted == generic
    assert generic.startswith("An account with this email address already exists")
    assert "Company SSO" in error_message("email_in_use", use="oidc", add="<b>x</b>",
                                          providers=[SSO, GITHUB])
    assert "<b>" not in error_message("email_in_use", use="oidc", add="<b>x</b>",
                                      providers=[SSO, GITHUB])


def test_sessions_are_listed_and_can_be_ended_one_by_one_or_all(session: Session) -> None:
    laptop = sign_in(session, profile(), anonymous_browser(session).token)
    phone = sign_in(session, profile(), anonymous_browser(session).token)
    user_id = laptop.user_id

    listed = accounts.list_sessions(session, user_id=user_id, current_token=phone.new_session.token)
    assert len(listed) == 2 and listed[0].current and not listed[1].current

    accounts.revoke_session(session, user_id=user_id, session_id=listed[1].id)
    session.commit()
    assert tokens.user_for_token(session, token=laptop.new_session.token) is None
    assert tokens.user_for_token(session, token=phone.new_session.token) == user_id

    assert accounts.revoke_all_sessions(session, user_id=user_id) == 1
    session.commit()
    assert tokens.user_for_token(session, token=phone.new_session.token) is None


def test_nobody_can_end_someone_elses_session(session: Session) -> None:
    ada = sign_in(session, profile(), anonymous_browser(session).token)
    bob = sign_in(session, profile(subject="gh-2", email="bob@example.org"),
                  anonymous_browser(session).token)
    ada_session = accounts.list_sessions(session, user_id=ada.user_id, current_token=None)[0]

    with pytest.raises(NotFoundError):
        accounts.revoke_session(session, user_id=bob.user_id, session_id=ada_session.id)
    assert tokens.user_for_token(session, token=ada.new_session.token) == ada.user_id


def test_sign_out_ends_only_this_session(session: Session) -> None:
    laptop = sign_in(session, profile(), anonymous_browser(session).token)
    phone = sign_in(session, profile(), anonymous_browser(session).token)
    accounts.sign_out(session, token=laptop.new_session.token)
    session.commit()
    assert tokens.user_for_token(session, token=laptop.new_session.token) is None
    assert tokens.user_for_token(session, token=phone.new_session.token) == phone.user_id


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
    assert tokens.user_for_token(session, token=ada.new_session.token) is None
    assert titles(session, bob.user_id) == ["bob's chat"]
