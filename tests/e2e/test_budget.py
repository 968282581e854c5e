"""Budgets in Chromium: the meter goes down as replies cost money, then a clear refusal."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_auth import sign_in_with_sso
from tests.e2e.ui import REPLY_TIMEOUT, open_chat, send

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
LONG = "[[tokens=2000]]"  # cut at the request's max output (1,024 tokens): ~$0.0082 on GPT-4.1


def percent(page: Page) -> int:
    text = page.get_by_test_id("meter").inner_text()
    match = re.search(r"(\d+)% left", text)
    assert match, text
    return int(match.group(1))


def test_spending_down_the_allowance_shows_the_meter_then_the_refusal(
    page: Page, oidc
) -> None:
    sub = f"spender-{uuid.uuid4().hex[:8]}"
    oidc.set_user(sub, email=f"{sub}@example.org", name="Spender")
    open_chat(page)
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text("Spender")
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name="GPT-4.1", exact=True).click()
    expect(page.get_by_test_id("meter")).to_have_text("100% left")

    for n in (1, 2):
        send(page, f"reply number {n} {LONG}")
        replies = page.get_by_test_id("assistant-message")
        expect(replies).to_have_count(n, timeout=REPLY_TIMEOUT)
        expect(replies.nth(n - 1)).to_have_attribute("data-status", "complete",
                                                     timeout=REPLY_TIMEOUT)
    expect(page.get_by_test_id("meter")).to_contain_text("full in")
    left = percent(page)
    assert 5 <= left <= 30, left  # two replies of ~41% each

    send(page, f"one more please {LONG}")
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text("You've used your allowance for now")
    expect(notice).to_contain_text(re.compile(r"refills in \d+ (h|min)"))
    expect(page.get_by_test_id("notice-use-key")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_have_value(f"one more please {LONG}")
    expect(page.get_by_test_id("user-message")).to_have_count(2)  # nothing was stored

    page.goto("/settings/usage")
    expect(page.get_by_text("GPT-4.1").first).to_be_visible()
