"""Own API keys in Chromium: paste, test, and the key never comes back to the browser.

The e2e app has no Anthropic key of its own, but its Anthropic base URL is the scripted server,
which here takes only GOOD (and the server's OpenAI key): a user's key for Anthropic is the
only way to its models.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, WebSocket, expect

from chatapp.errors import ProviderAuthError
from chatapp.services.catalog.keys import CHECK_OK_MESSAGE
from tests.e2e.test_auth import person, sign_in_with_sso
from tests.e2e.ui import REPLY_TIMEOUT, marker, open_chat, requests_for, send
from tests.fakes.wire_server import ScriptedServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SERVER_KEY = "sk-test-e2e"  # the e2e app's own OpenAI key (tests/e2e/conftest.py)


@pytest.fixture
def good_key(wire: ScriptedServer) -> Iterator[str]:
    """A key the scripted server takes; every other key but the server's is refused."""
    key = f"sk-ant-e2e-{uuid.uuid4().hex}"
    wire.accepted_keys = frozenset({SERVER_KEY, key})
    try:
        yield key
    finally:
        wire.accepted_keys = None


class Frames:
    """Every websocket frame of the page, in order, with its direction."""

    def __init__(self, page: Page) -> None:
        self.frames: list[tuple[str, str]] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.frames.append(("sent", _text(payload))))
        ws.on("framereceived", lambda payload: self.frames.append(("received", _text(payload))))

    def assert_sent_once_and_never_received(self, key: str) -> None:
        """The key went up once (the form's submit) and never came down; nor did all of it
        but the last four characters, which are what the page shows."""
        sent = [i for i, (way, text) in enumerate(self.frames) if way == "sent" and key in text]
        assert len(sent) == 1, f"the key was sent {len(sent)} times"
        for way, text in self.frames:
            assert way == "sent" or key[:-4] not in text, "the browser received the key"


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode(errors="replace")


def signed_in(new_context, oidc) -> tuple[Page, Frames]:
    sub, email = person()
    oidc.set_user(sub, email=email, name="Key Holder")
    page = new_context().new_page()
    frames = Frames(page)
    open_chat(page)
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text("Key Holder")
    return page, frames


def key_row(page: Page, provider: str) -> Locator:
    return page.locator(f"[data-testid=key-row][data-provider={provider}]")


def save_key(page: Page, provider: str, key: str) -> Locator:
    row = key_row(page, provider)
    row.get_by_test_id("key-input").fill(key)
    row.get_by_test_id("key-save").click()
    expect(row.get_by_test_id("key-last4")).to_have_text(f"•••• {key[-4:]}")
    expect(row.get_by_test_id("key-input")).to_have_value("")  # the form was reset
    return row


def assert_nowhere_in_the_page(page: Page, key: str) -> None:
    storage = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    for text in (page.content(), storage, page.evaluate("() => document.cookie")):
        assert key[:-4] not in text


def test_add_a_key_test_it_and_it_never_comes_back(new_context, oidc, good_key: str) -> None:
    page, frames = signed_in(new_context, oidc)
    page.goto("/settings/keys")
    expect(page.get_by_test_id("key-row")).to_have_count(5)
    expect(page.get_by_test_id("key-last4")).to_have_count(0)

    wrong = f"sk-ant-e2e-{uuid.uuid4().hex}"
    row = save_key(page, "anthropic", wrong)
    result = row.get_by_test_id("key-test-result")
    expect(result).to_have_attribute("data-status", "untested")
    row.get_by_test_id("key-test").click()
    expect(result).to_have_attribute("data-status", "failed")
    expect(result).to_contain_text(ProviderAuthError.user_message)

    row = save_key(page, "anthropic", good_key)  # replace it
    expect(result).to_have_attribute("data-status", "untested")
    row.get_by_test_id("key-test").click()
    expect(result).to_have_attribute("data-status", "ok")
    expect(result).to_contain_text(CHECK_OK_MESSAGE)

    page.reload()  # what the server remembers: the last four and the result, no more
    expect(row.get_by_test_id("key-last4")).to_have_text(f"•••• {good_key[-4:]}")
    expect(row.get_by_test_id("key-test-result")).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("key-last4")).to_have_count(1)
    for key in (wrong, good_key):
        frames.assert_sent_once_and_never_received(key)
        assert_nowhere_in_the_page(page, key)

    row.get_by_test_id("key-delete").click()
    expect(page.get_by_test_id("key-last4")).to_have_count(0)


def test_anonymous_visitors_are_asked_to_sign_in(page: Page) -> None:
    open_chat(page)
    page.goto("/settings/keys")
    expect(page.get_by_test_id("keys-signed-out")).to_have_text("Sign in to use your own keys.")
    expect(page.get_by_test_id("keys-sign-in")).to_have_attribute(
        "href", re.compile(r"/signin\?next=/settings/keys$"))
    expect(page.get_by_test_id("key-row")).to_have_count(0)


def test_an_own_key_makes_its_models_available_and_a_reply_streams_with_it(
    new_context, oidc, wire: ScriptedServer, good_key: str
) -> None:
    page, frames = signed_in(new_context, oidc)
    page.goto("/settings/keys")
    save_key(page, "anthropic", good_key)

    open_chat(page)
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name="Claude Haiku 4.5", exact=True).click()
    expect(page.get_by_test_id("model-picker")).to_have_text("Claude Haiku 4.5")
    tag = marker()
    send(page, f"with my own key {tag} [[tokens=40 rate=80]]")
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(reply.locator(".model-label")).to_have_text("Claude Haiku 4.5")

    (request,) = requests_for(wire, tag)
    assert request.path.endswith("/messages") and request.body["model"] == "claude-haiku-4-5"
    sent_key = request.headers.get("x-api-key") or request.headers.get("authorization", "")
    assert sent_key.removeprefix("Bearer ") == good_key
    assert request.completed
    frames.assert_sent_once_and_never_received(good_key)
