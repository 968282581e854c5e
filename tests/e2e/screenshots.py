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
