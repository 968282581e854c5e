"""Chatting in real Chromium against the running app, with the scripted OpenAI server behind it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import (
    LIVE,
    REPLY_TIMEOUT,
    THREAD_URL,
    marker,
    open_chat,
    reply_text,
    requests_for,
    scripted,
    send,
    thread_id,
    wait_for_growth,
    wait_for_requests,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# --- a. sending, streaming, the sidebar -------------------------------------------------


def test_send_with_enter_streams_the_reply_and_lists_the_thread(page: Page, wire) -> None:
    open_chat(page)
    expect(page.get_by_test_id("thread-link")).to_have_count(0)
    tag = marker()
    send(page, f"hello {tag} [[tokens=120 rate=60]]")

    tid = thread_id(page)
    expect(page.get_by_test_id("user-message")).to_have_count(1)
    expect(page.get_by_test_id("user-message")).to_contain_text(f"hello {tag}")
    expect(page.get_by_test_id("composer")).to_have_value("")

    # The reply grows in place while the model writes it, with Stop offered meanwhile.
    live = page.get_by_test_id("live-reply")
    expect(live).to_contain_text("Streaming tokens")
    expect(page.get_by_test_id("stop-button")).to_be_visible()
    expect(page.get_by_test_id("thread-spinner")).to_be_visible()
    first = len(live.inner_text())
    grown = wait_for_growth(page, LIVE, first)
    assert grown > first
    expect(live).to_be_visible()  # still streaming after it grew: the text did not land at once

    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(live).to_have_count(0)
    assert reply_text(reply) == scripted(120)
    expect(reply).to_contain_text("GPT-4.1 mini")
    expect(page.get_by_test_id("send-button")).to_be_visible()

    # The thread is listed under Today, links to this URL, and is marked as open.
    link = page.get_by_test_id("thread-link")
    expect(link).to_have_count(1)
    expect(link).to_contain_text(f"hello {tag}")
    expect(link).to_have_attribute("href", f"/chat/{tid}")
    title = link.locator(".thread-title")
    assert title.evaluate("el => el.scrollHeight <= el.clientHeight"), "title glyphs are clipped"
    expect(page.locator(".thread-list .group-label")).to_have_text(["Today"])
    expect(page.get_by_test_id("thread-spinner")).to_have_count(0)

    (request,) = requests_for(wire, tag)
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.completed


def test_shift_enter_is_a_newline_and_empty_input_sends_nothing(page: Page, wire) -> None:
    open_chat(page)
    composer = page.get_by_test_id("composer")

    # Empty and blank composers: neither Enter nor the button sends anything. (The empty
    # composer's button is inert by CSS: a click lands on it all the same, as a user's would.)
    composer.press("Enter")
    page.get_by_test_id("send-button").click(force=True)
    composer.fill("   \n  ")
    composer.press("Enter")
    page.get_by_test_id("send-button").click()

    tag = marker()
    composer.fill(f"line one {tag}")
    composer.press("Shift+Enter")
    composer.press_sequentially("line two")
    expect(composer).to_have_value(f"line one {tag}\nline two")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("user-message")).to_have_count(0)

    composer.press("Enter")
    thread_id(page)
    # Events are handled in order: had an empty submit sent something, it would show first.
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )
    user = page.get_by_test_id("user-message")
    expect(user).to_have_count(1)
    assert user.inner_text().strip() == f"line one {tag}\nline two"
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("thread-link")).to_have_count(1)
    assert len(requests_for(wire, tag)) == 1
    assert reply_text(page.get_by_test_id("assistant-message")) == f"Echo: line one {tag} line two"


# --- b, c. history ------------------------------------------------------------------------


def test_reload_shows_the_history(page: Page) -> None:
    open_chat(page)
    tag = marker()
    send(page, f"remember {tag}")
    tid = thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )

    page.reload()
    expect(page).to_have_url(re.compile(f"/chat/{tid}$"))
    expect(page.get_by_test_id("user-message")).to_have_text([f"remember {tag}"])
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_count(1)
    expect(reply).to_have_attribute("data-status", "complete")
    assert reply_text(reply) == f"Echo: remember {tag}"

    # A fresh tab of the same browser (same cookie, new Reflex token) sees it too.
    other = page.context.new_page()
    open_chat(other, f"/chat/{tid}")
    expect(other.get_by_test_id("user-message")).to_have_text([f"remember {tag}"])
    assert reply_text(other.get_by_test_id("assistant-message")) == f"Echo: remember {tag}"


def test_new_chat_then_switch_back_through_the_sidebar(page: Page) -> None:
    open_chat(page)
    first, second = f"first topic {marker()}", f"second topic {marker()}"
    send(page, first)
    first_id = thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )

    page.get_by_test_id("new-chat").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("How can I help you?")).to_be_visible()
    expect(page.get_by_test_id("user-message")).to_have_count(0)
    send(page, second)
    expect(page).to_have_url(re.compile(r"/chat/"))
    second_id = thread_id(page)
    assert second_id != first_id
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )
    links = page.get_by_test_id("thread-link")
    expect(links).to_have_count(2)
    expect(links.first).to_contain_text("second topic")  # most recent first

    links.filter(has_text=first).click()
    expect(page).to_have_url(re.compile(f"/chat/{first_id}$"))
    expect(page.get_by_test_id("user-message")).to_have_text([first])
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    assert reply_text(page.get_by_test_id("assistant-message")) == f"Echo: {first}"
    expect(page.locator(".thread.active")).to_contain_text("first topic")


# --- d, e. stopping and reloading while a reply streams -------------------------------------


def test_stop_keeps_the_partial_reply(page: Page, wire) -> None:
    open_chat(page)
    tag = marker()
    send(page, f"write a lot {tag} [[tokens=2000 rate=50]]")
    tid = thread_id(page)
    live = page.get_by_test_id("live-reply")
    expect(live).to_contain_text("Streaming tokens arrive one")

    # Enter while the reply streams sends nothing, says why, and keeps the draft.
    composer = page.get_by_test_id("composer")
    composer.fill("a follow-up")
    composer.press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text("Wait for the current reply")
    expect(composer).to_have_value("a follow-up")
    expect(page.get_by_test_id("user-message")).to_have_count(1)

    seen = reply_text(live)
    page.get_by_test_id("stop-button").click()
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "cancelled", timeout=REPLY_TIMEOUT)
    expect(reply.get_by_test_id("reply-stopped")).to_contain_text("Stopped")
    expect(live).to_have_count(0)
    expect(page.get_by_test_id("send-button")).to_be_visible()
    kept = reply_text(reply)
    assert kept.startswith(seen), (seen, kept)
    assert len(kept) < len(scripted(1000)) / 2  # stopped early, not at the end

    (request,) = requests_for(wire, tag)
    assert request.wait(10)
    assert not request.completed  # the app hung up on the provider
    assert request.tokens_sent < request.tokens_total

    page.reload()
    expect(page).to_have_url(re.compile(f"/chat/{tid}$"))
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "cancelled")
    expect(reply.get_by_test_id("reply-stopped")).to_be_visible()
    assert reply_text(reply) == kept


def test_a_reply_goes_on_when_its_tab_closes_and_coming_back_shows_it(
    page: Page, new_context, wire
) -> None:
    # The only tab closes as soon as the new chat's address shows: the reply is written to
    # the end all the same, and the user finds it complete when they come back.
    open_chat(page)
    tag = marker()
    send(page, f"closed at once {tag} [[tokens=120 rate=60]]")
    tid = thread_id(page)
    cookies = page.context.cookies()
    page.close()
    (request,) = wait_for_requests(wire, tag, 1)
    assert request.wait(15) and request.completed

    back = new_context()
    back.add_cookies(cookies)
    again = back.new_page()
    open_chat(again, f"/chat/{tid}")
    reply = again.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    assert reply_text(reply) == scripted(120)


def test_reload_mid_stream_resumes_the_live_reply(page: Page) -> None:
    open_chat(page)
    tag = marker()
    text = f"slow please {tag} [[tokens=180 rate=30]]"
    send(page, text)
    tid = thread_id(page)
    live = page.get_by_test_id("live-reply")
    expect(live).to_contain_text("Streaming tokens arrive")
    before = reply_text(live)

    page.reload()
    expect(page).to_have_url(re.compile(f"/chat/{tid}$"))
    expect(page.get_by_test_id("user-message")).to_have_text([text])
    # The text so far is back at once, and keeps growing in the same place.
    expect(live).to_contain_text(before[:40])
    shown = len(live.inner_text())
    wait_for_growth(page, LIVE, shown)
    expect(page.get_by_test_id("stop-button")).to_be_visible()

    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(reply).to_have_count(1)
    expect(live).to_have_count(0)
    assert reply_text(reply) == scripted(180)


def test_a_second_tab_follows_the_reply_to_the_end(page: Page) -> None:
    open_chat(page)
    send(page, f"two tabs {marker()} [[tokens=180 rate=30]]")
    tid = thread_id(page)
    expect(page.get_by_test_id("live-reply")).to_contain_text("Streaming tokens")

    # Another tab of the same user (its own Reflex token) opens the thread mid-reply.
    other = page.context.new_page()
    open_chat(other, f"/chat/{tid}")
    live = other.get_by_test_id("live-reply")
    expect(live).to_contain_text("Streaming tokens")
    wait_for_growth(other, LIVE, len(live.inner_text()))

    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )
    reply = other.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=5_000)  # once it ends
    expect(live).to_have_count(0)
    expect(other.get_by_test_id("thread-spinner")).to_have_count(0)
    assert reply_text(reply) == scripted(180)


def test_a_second_tab_can_stop_the_reply(page: Page, wire) -> None:
    open_chat(page)
    tag = marker()
    send(page, f"stop from elsewhere {tag} [[tokens=2000 rate=50]]")
    tid = thread_id(page)
    expect(page.get_by_test_id("live-reply")).to_contain_text("Streaming tokens")

    other = page.context.new_page()
    open_chat(other, f"/chat/{tid}")
    expect(other.get_by_test_id("live-reply")).to_contain_text("Streaming tokens")
    other.get_by_test_id("stop-button").click()

    for tab in (other, page):
        reply = tab.get_by_test_id("assistant-message")
        expect(reply).to_have_attribute("data-status", "cancelled", timeout=REPLY_TIMEOUT)
        expect(reply.get_by_test_id("reply-stopped")).to_be_visible()
    assert reply_text(other.get_by_test_id("assistant-message")) == reply_text(
        page.get_by_test_id("assistant-message")
    )
    (request,) = requests_for(wire, tag)
    assert request.wait(10)
    assert not request.completed


# --- f. failures and Retry ---------------------------------------------------------------------


def test_rate_limit_error_offers_retry_that_tries_again(page: Page, wire) -> None:
    open_chat(page)
    tag = marker()
    text = f"limited {tag} [[status=429]]"
    send(page, text)
    thread_id(page)

    error = page.get_by_test_id("reply-error")
    expect(error).to_be_visible(timeout=REPLY_TIMEOUT)
    expect(error).to_contain_text(re.compile(r"rate limit", re.IGNORECASE))
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "error")
    expect(page.get_by_test_id("user-message")).to_have_text([text])
    assert len(requests_for(wire, tag)) == 1

    page.get_by_test_id("retry-button").click()
    wait_for_requests(wire, tag, 2)
    expect(error).to_be_visible(timeout=REPLY_TIMEOUT)
    expect(error).to_contain_text(re.compile(r"rate limit", re.IGNORECASE))
    # The failed reply is replaced by the new attempt, not stacked under it.
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("user-message")).to_have_text([text])
    assert [r.status for r in requests_for(wire, tag)] == [429, 429]

    page.reload()
    expect(page.get_by_test_id("user-message")).to_have_text([text])
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("reply-error")).to_be_visible()


def test_broken_stream_keeps_partial_text_and_shows_the_error(page: Page, wire) -> None:
    open_chat(page)
    tag = marker()
    send(page, f"cut me off {tag} [[tokens=40 rate=20 drop_after=5]]")
    thread_id(page)

    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "error", timeout=REPLY_TIMEOUT)
    assert reply_text(reply) == " ".join(scripted(40).split()[:5])
    error = reply.get_by_test_id("reply-error")
    expect(error).to_contain_text(re.compile(r"connection|lost", re.IGNORECASE))
    expect(error.get_by_test_id("retry-button")).to_be_visible()
    (request,) = requests_for(wire, tag)
    assert request.dropped


# --- g. model output is text, code blocks can be copied ---------------------------------------


def test_html_in_model_output_is_shown_as_text(page: Page) -> None:
    open_chat(page)
    html = "<b>bold</b> and <img src=x onerror=alert(1)> and <script>alert(2)</script>"
    send(page, html)
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)

    expect(reply).to_contain_text("<b>bold</b>")
    expect(reply).to_contain_text("<img src=x onerror=alert(1)>")
    for tag in ("b", "img", "script"):
        expect(reply.locator(tag)).to_have_count(0)
        expect(page.get_by_test_id("user-message").locator(tag)).to_have_count(0)
    expect(page.get_by_test_id("user-message")).to_have_text([html])
    assert page.evaluate("() => document.querySelectorAll('main img').length") == 0
    # The page fixture fails the test if alert() ever ran.


def test_code_block_in_a_reply_has_a_copy_button(new_context) -> None:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    open_chat(page)
    code = 'def greet(name):\n    return f"hello {name}"'
    send(page, f"Here is a function:\n```python\n{code}\n```")
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)

    block = reply.locator("pre")
    expect(block).to_have_count(1)
    expect(block).to_contain_text("def greet(name):")
    copy = reply.get_by_role("button", name="Copy code")
    expect(copy).to_be_visible()
    copy.click()
    page.wait_for_function(
        "(code) => navigator.clipboard.readText().then(t => t.trim() === code)", arg=code,
    )


# --- h, i. privacy ------------------------------------------------------------------------------


def test_another_users_thread_is_not_found(new_context) -> None:
    owner = new_context().new_page()
    open_chat(owner)
    secret = f"my secret plan {marker()}"
    send(owner, secret)
    tid = thread_id(owner)
    expect(owner.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )

    stranger = new_context().new_page()
    stranger.goto(f"/chat/{tid}")
    expect(stranger.get_by_test_id("not-found")).to_be_visible()
    expect(stranger.get_by_test_id("user-message")).to_have_count(0)
    expect(stranger.get_by_test_id("assistant-message")).to_have_count(0)
    expect(stranger.get_by_test_id("thread-link")).to_have_count(0)
    expect(stranger.get_by_test_id("composer")).to_have_count(0)
    assert secret not in stranger.content()

    stranger.goto("/chat/this-thread-does-not-exist")
    expect(stranger.get_by_test_id("not-found")).to_be_visible()
    expect(stranger.get_by_test_id("user-message")).to_have_count(0)

    # The owner still sees it.
    owner.reload()
    expect(owner.get_by_test_id("user-message")).to_have_text([secret])


def test_session_cookie_is_httponly_and_samesite_lax(page: Page) -> None:
    open_chat(page)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["chatapp_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["path"] == "/"
    assert len(session["value"]) >= 32
    visible = page.evaluate("() => document.cookie")
    assert "chatapp_session" not in visible
    assert session["value"] not in visible


# --- the model picker -------------------------------------------------------------------------


def test_model_picker_chooses_the_model_that_answers(page: Page, wire, oidc) -> None:
    from tests.e2e.test_auth import sign_in_with_sso

    open_chat(page)
    page.get_by_test_id("model-picker").click()
    locked = page.get_by_role("option", name="GPT-4.1 · Sign in to use")
    expect(locked).to_have_attribute("aria-disabled", "true")  # signed-in only, says why
    page.keyboard.press("Escape")

    sub = f"picker-{marker()}"
    oidc.set_user(sub, email=f"{sub}@example.org", name="Picker")
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text("Picker")
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name="GPT-4.1", exact=True).click()
    expect(page.get_by_test_id("model-picker")).to_have_text("GPT-4.1")
    tag = marker()
    send(page, f"which model {tag}")
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(reply.locator(".model-label")).to_have_text("GPT-4.1")
    (request,) = requests_for(wire, tag)
    assert request.body["model"] == "gpt-4.1"

    page.reload()  # the thread remembers its model
    expect(page.get_by_test_id("model-picker")).to_have_text("GPT-4.1")


# --- following the stream ------------------------------------------------------------------

SCROLL_STATE = (
    "() => { const m = document.getElementById('messages');"
    " return {top: m.scrollTop, gap: m.scrollHeight - m.scrollTop - m.clientHeight}; }"
)


def test_the_view_follows_the_stream_only_while_the_reader_is_at_the_bottom(page: Page) -> None:
    page.set_viewport_size({"width": 1100, "height": 600})
    open_chat(page)
    send(page, "a long one [[tokens=3000 rate=120]]")
    page.wait_for_function(
        "() => { const m = document.getElementById('messages');"
        " return m && m.scrollHeight > m.clientHeight + 300; }",
        timeout=REPLY_TIMEOUT,
    )
    length = wait_for_growth(page, LIVE, 0)
    length = wait_for_growth(page, LIVE, length + 200)
    assert page.evaluate(SCROLL_STATE)["gap"] < 80  # pinned to the newest text

    page.mouse.move(600, 300)
    page.mouse.wheel(0, -400)  # the reader scrolls up to read something
    page.wait_for_function(
        "() => { const m = document.getElementById('messages');"
        " return m.scrollHeight - m.scrollTop - m.clientHeight > 200; }"
    )
    page.wait_for_timeout(300)  # let the wheel's smooth scroll settle before measuring
    held = page.evaluate(SCROLL_STATE)
    assert held["gap"] > 200
    # Longer than it is now, not than before the scroll (it may have grown meanwhile).
    length = wait_for_growth(page, LIVE, len(page.locator(LIVE).inner_text()) + 400)
    after = page.evaluate(SCROLL_STATE)
    assert after["top"] == held["top"]  # the text grew, the view stayed put
    assert after["gap"] > held["gap"]

    page.mouse.wheel(0, 100_000)  # back to the bottom: following resumes
    wait_for_growth(page, LIVE, length + 400)
    assert page.evaluate(SCROLL_STATE)["gap"] < 80
    page.get_by_test_id("stop-button").click()
    expect(page.get_by_test_id("reply-stopped")).to_be_visible(timeout=REPLY_TIMEOUT)


# Types into the composer on screen (the new chat's page may not have replaced it yet) and
# marks the element, so the test can tell whether it was replaced afterwards.
TYPE_NOW = """(text) => { const c = document.getElementById('composer'); c.__typedInto = true;
  c.value = text; c.dispatchEvent(new Event('input', {bubbles: true})); }"""


def test_text_typed_while_a_new_chat_opens_is_kept(page: Page) -> None:
    """A new chat's page replaces the composer a moment after its address changes; what the
    user typed into the old one in between stays (it used to vanish)."""
    replaced = 0
    for _ in range(4):
        open_chat(page)
        send(page, f"a new chat {marker()} [[tokens=400 rate=50]]")
        page.wait_for_url(THREAD_URL, wait_until="commit")
        page.evaluate(TYPE_NOW, "the next question")
        expect(page.get_by_test_id("stop-button")).to_be_visible()
        page.wait_for_timeout(500)  # the new page has mounted by now
        replaced += not page.evaluate("!!document.getElementById('composer').__typedInto")
        expect(page.get_by_test_id("composer")).to_have_value("the next question")
        page.get_by_test_id("stop-button").click()
        expect(page.get_by_test_id("reply-stopped")).to_be_visible(timeout=REPLY_TIMEOUT)
        if replaced >= 2:
            break
    assert replaced, "the composer was never replaced after typing: nothing was tested"
