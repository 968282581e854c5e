"""Retakes the screenshots in docs/screenshots/ from the running app.

Not part of the suite (the file name keeps pytest from collecting it, since it rewrites tracked
files); run it by path: `python -m pytest tests/e2e/screenshots.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import REPLY_TIMEOUT, open_chat, send, thread_id

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_finished_conversation_with_code(page: Page) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    open_chat(page)
    send(page, "hello")
    thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )
    send(
        page,
        "Can you tidy this function up?\n```python\ndef greet(name):\n"
        '    return f"hello {name}"\n```',
    )
    last = page.get_by_test_id("assistant-message").last
    expect(page.get_by_test_id("assistant-message")).to_have_count(2)
    expect(last).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(last.get_by_role("button", name="Copy code")).to_be_visible()
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(OUT / "chat.png"))


def test_reply_streaming(page: Page) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    open_chat(page)
    send(page, "Tell me how streaming feels [[tokens=400 rate=40]]")
    thread_id(page)
    live = page.get_by_test_id("live-reply")
    expect(live).to_contain_text(re.compile(r"hello \{name\}.*\s\w+ \w+ \w+ \w+", re.DOTALL),
                                 timeout=REPLY_TIMEOUT)
    expect(page.get_by_test_id("thread-spinner")).to_be_visible()
    page.mouse.move(0, 0)
    page.screenshot(path=str(OUT / "streaming.png"))
    page.get_by_test_id("stop-button").click()
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "cancelled", timeout=REPLY_TIMEOUT
    )


def test_sign_in_and_account_pages(page: Page, oidc) -> None:
    from tests.support.oidc import approve

    OUT.mkdir(parents=True, exist_ok=True)
    oidc.set_user("ada", email="ada@example.org", name="Ada Lovelace")
    open_chat(page)
    send(page, "What did Ada Lovelace write about the Analytical Engine?")
    thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT
    )
    page.goto("/signin")
    expect(page.get_by_test_id("provider-oidc")).to_be_visible()
    page.screenshot(path=str(OUT / "sign-in.png"))
    page.get_by_test_id("provider-oidc").click()
    approve(page, "ada")
    expect(page.get_by_test_id("account-link")).to_contain_text("Ada Lovelace")
    page.screenshot(path=str(OUT / "signed-in.png"))
    page.goto("/settings/account")
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    page.screenshot(path=str(OUT / "account.png"))


def _finished(page: Page, count: int) -> None:
    replies = page.get_by_test_id("assistant-message")
    expect(replies).to_have_count(count, timeout=REPLY_TIMEOUT)
    expect(replies.last).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)


def test_conversations(page: Page, new_context) -> None:
    """The thread menu, a branch navigator, the palette with search hits, the narrow drawer."""
    OUT.mkdir(parents=True, exist_ok=True)
    open_chat(page)
    for text in ("Plan a weekend in Lisbon [[tokens=30]]", "Sourdough starter tips [[tokens=30]]",
                 "Explain Rust lifetimes [[tokens=30]]"):
        page.goto("/")
        send(page, text)
        thread_id(page)
        _finished(page, 1)
    user = page.get_by_test_id("user-message")
    user.hover()
    user.get_by_test_id("edit-button").click()
    page.get_by_test_id("edit-input").fill("Explain Rust lifetimes with an example [[tokens=40]]")
    page.get_by_test_id("edit-save").click()
    _finished(page, 1)
    row = page.get_by_test_id("thread-row").filter(has_text="Lisbon")
    row.hover()
    row.get_by_test_id("thread-menu").click()
    expect(page.get_by_test_id("menu-rename")).to_be_visible()
    page.screenshot(path=str(OUT / "thread-menu.png"))
    page.keyboard.press("Escape")
    page.keyboard.press("Control+k")
    page.get_by_test_id("palette-input").fill("lisbon")
    expect(page.get_by_test_id("search-result").first).to_be_visible()
    page.screenshot(path=str(OUT / "search.png"))
    page.keyboard.press("Escape")
    narrow = new_context(viewport={"width": 390, "height": 760}).new_page()
    narrow.goto(page.url)
    narrow.context.add_cookies(page.context.cookies())
    narrow.reload()
    narrow.locator(".topbar").get_by_test_id("sidebar-toggle").click()
    expect(narrow.locator(".sidebar")).to_be_in_viewport()
    narrow.wait_for_timeout(300)
    narrow.screenshot(path=str(OUT / "narrow-drawer.png"))
