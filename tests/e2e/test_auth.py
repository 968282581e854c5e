"""Identity in Chromium: anonymous first, sign-in that keeps chats, sessions, deletion."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import REPLY_TIMEOUT, open_chat, send, thread_id
from tests.fakes import github as gh
from tests.support import oidc as op

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def person() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"user-{tag}", f"{tag}@example.org"


def chat_once(page: Page, text: str) -> str:
    open_chat(page)
    send(page, text)
    tid = thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT)
    return tid


def sign_in_with_sso(page: Page, oidc, sub: str) -> None:
    page.get_by_test_id("sign-in-link").first.click()
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_test_id("provider-oidc").click()
    op.approve(page, sub)


def sidebar_titles(page: Page) -> list[str]:
    return page.get_by_test_id("thread-link").all_inner_texts()


def test_anonymous_chat_sign_in_keeps_it_sign_out_and_a_second_browser_sees_it(
    new_context, oidc
) -> None:
    sub, email = person()
    oidc.set_user(sub, email=email, name="Ada Lovelace")
    page = new_context().new_page()
    tid = chat_once(page, f"anonymous question {sub}")

    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text("Ada Lovelace")
    expect(page.get_by_test_id("thread-link")).to_contain_text([f"anonymous question {sub}"])
    page.goto(f"/chat/{tid}")
    expect(page.get_by_test_id("user-message")).to_have_text([f"anonymous question {sub}"])

    cookie = next(c for c in page.context.cookies() if c["name"] == "chatapp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.goto("/settings/account")
    expect(page.get_by_test_id("account-email")).to_have_text(email)
    expect(page.get_by_test_id("sign-in-method")).to_contain_text(["Test SSO"])
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    expect(page.get_by_test_id("session-row")).to_contain_text("This browser")

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("sign-in-link").first).to_be_visible()
    expect(page.get_by_test_id("thread-link")).to_have_count(0)
    page.goto(f"/chat/{tid}")
    expect(page.get_by_test_id("not-found")).to_be_visible()

    other = new_context().new_page()
    open_chat(other)
    sign_in_with_sso(other, oidc, sub)
    expect(other.get_by_test_id("thread-link")).to_contain_text([f"anonymous question {sub}"])


def test_the_same_email_from_github_is_refused_until_linked_from_the_account_page(
    new_context, oidc, github
) -> None:
    # The app runs with the default CHATAPP_EMAIL_LINK_PROVIDERS (empty): no provider is
    # trusted to link by email, so a verified GitHub address alone must not open the account.
    sub, email = person()
    oidc.set_user(sub, email=email, name="Grace")
    page = new_context().new_page()
    chat_once(page, f"via sso {sub}")
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text("Grace")

    github.set_user(id=int(uuid.uuid4().int % 10**8), login="grace-gh", name="Grace H",
                    emails=[(email.upper(), True, True)])
    laptop = new_context().new_page()
    chat_once(laptop, f"on the laptop {sub}")
    laptop.goto("/signin")
    laptop.get_by_test_id("provider-github").click()
    gh.authorize(laptop)
    expect(laptop).to_have_url(re.compile(r"/signin/?\?error=email_in_use"))
    refusal = laptop.url
    expect(laptop.get_by_test_id("sign-in-error")).to_have_text(
        "An account with this email address already exists. Sign in with Test SSO, as you did "
        "before, then add GitHub from your account page.")
    open_chat(laptop, "/")  # still the anonymous browser, its chat where it was
    expect(laptop.get_by_test_id("sign-in-link").first).to_be_visible()
    expect(laptop.get_by_test_id("thread-link")).to_have_text([f"on the laptop {sub}"])

    # The way out the message names: sign in as before, then add GitHub on the account page.
    laptop.goto(refusal)
    expect(laptop.get_by_test_id("sign-in-error")).to_be_visible()
    laptop.get_by_test_id("provider-oidc").click()
    op.approve(laptop, sub)
    expect(laptop).to_have_url(re.compile(r"/settings/account/?$"))
    expect(laptop.get_by_test_id("sign-in-method")).to_have_text([re.compile("Test SSO")])
    expect(laptop.get_by_test_id("add-sign-in-method")).to_contain_text("Add a sign-in method")
    laptop.get_by_test_id("add-method-github").click()
    gh.authorize(laptop)
    expect(laptop).to_have_url(re.compile(r"/settings/account/?$"))
    expect(laptop.get_by_test_id("sign-in-method")).to_have_count(2)
    expect(laptop.get_by_test_id("sign-in-method")).to_contain_text(["Test SSO", "GitHub"])
    expect(laptop.get_by_test_id("add-method-github")).to_have_count(0)

    # Now GitHub alone signs in to that account, on a browser that never used SSO.
    phone = new_context().new_page()
    open_chat(phone)
    phone.goto("/signin")
    phone.get_by_test_id("provider-github").click()
    gh.authorize(phone)
    expect(phone.get_by_test_id("account-link")).to_contain_text("Grace")
    expect(phone.get_by_test_id("thread-link")).to_contain_text(
        [f"on the laptop {sub}", f"via sso {sub}"])
    phone.goto("/settings/account")
    expect(phone.get_by_test_id("sign-in-method")).to_have_count(2)
    expect(phone.get_by_test_id("session-row")).to_have_count(3)


def test_cancel_at_the_provider_keeps_the_anonymous_chat(page: Page, oidc) -> None:
    chat_once(page, "still mine after cancelling")
    page.goto("/signin")
    page.get_by_test_id("provider-oidc").click()
    op.deny(page)
    expect(page).to_have_url(re.compile(r"/signin/?\?error=cancelled"))
    expect(page.get_by_test_id("sign-in-error")).to_contain_text("cancelled")
    open_chat(page, "/")
    expect(page.get_by_test_id("thread-link")).to_contain_text(["still mine after cancelling"])
    expect(page.get_by_test_id("sign-in-link").first).to_be_visible()


def test_an_unverified_email_is_refused_with_a_clear_message(page: Page, oidc) -> None:
    sub, email = person()
    oidc.set_user(sub, email=email, email_verified=False)
    chat_once(page, "unverified attempt")
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("sign-in-error")).to_contain_text("not verified")
    open_chat(page, "/")
    expect(page.get_by_test_id("sign-in-link").first).to_be_visible()
    expect(page.get_by_test_id("thread-link")).to_contain_text(["unverified attempt"])


def test_forged_and_replayed_callbacks_are_refused(new_context, oidc) -> None:
    sub, email = person()
    oidc.set_user(sub, email=email, name="Mallory's target")
    victim = new_context().new_page()
    callbacks: list[str] = []
    victim.on("request", lambda r: callbacks.append(r.url) if "/auth/callback/" in r.url
              else None)
    open_chat(victim)
    sign_in_with_sso(victim, oidc, sub)
    expect(victim.get_by_test_id("account-link")).to_contain_text("Mallory's target")
    assert callbacks

    attacker = new_context().new_page()
    open_chat(attacker)
    forged = f"/auth/callback/oidc?code=made-up&state={uuid.uuid4().hex}"
    attacker.goto(forged)
    expect(attacker.get_by_test_id("sign-in-error")).to_contain_text("invalid")
    path = urlsplit(callbacks[0])
    attacker.goto(f"{path.path}?{path.query}")  # the victim's real, already used callback
    expect(attacker.get_by_test_id("sign-in-error")).to_contain_text("invalid")
    open_chat(attacker, "/")
    expect(attacker.get_by_test_id("sign-in-link").first).to_be_visible()


def test_sessions_can_be_ended_per_session_and_everywhere(new_context, oidc) -> None:
    sub, email = person()
    oidc.set_user(sub, email=email, name="Two Browsers")
    first = new_context().new_page()
    open_chat(first)
    sign_in_with_sso(first, oidc, sub)
    second = new_context().new_page()
    open_chat(second)
    sign_in_with_sso(second, oidc, sub)

    second.goto("/settings/account")
    rows = second.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    rows.filter(has_not_text="This browser").get_by_test_id("revoke-session").click()
    expect(rows).to_have_count(1)
    first.reload()
    expect(first.get_by_test_id("sign-in-link").first).to_be_visible()

    second.get_by_test_id("sign-out-everywhere").click()
    expect(second).to_have_url(re.compile(r"/$"))
    expect(second.get_by_test_id("sign-in-link").first).to_be_visible()


def test_delete_account_really_deletes(new_context, oidc) -> None:
    sub, email = person()
    oidc.set_user(sub, email=email, name="Short Lived")
    page = new_context().new_page()
    tid = chat_once(page, f"delete me {sub}")
    sign_in_with_sso(page, oidc, sub)
    page.goto("/settings/account")
    page.get_by_test_id("delete-confirm").fill("no")
    page.get_by_test_id("delete-account").click()
    expect(page.get_by_test_id("account-notice")).to_contain_text("Nothing was deleted")
    page.get_by_test_id("delete-confirm").fill("delete my account")
    page.get_by_test_id("delete-account").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("sign-in-link").first).to_be_visible()

    again = new_context().new_page()
    open_chat(again)
    sign_in_with_sso(again, oidc, sub)
    expect(again.get_by_test_id("account-link")).to_be_visible()
    expect(again.get_by_test_id("thread-link")).to_have_count(0)
    again.goto(f"/chat/{tid}")
    expect(again.get_by_test_id("not-found")).to_be_visible()
