"""What the e2e tests do as a user, and how they read the scripted server's records."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.fakes.wire_scripts import last_user_text, text_pieces
from tests.fakes.wire_server import ScriptedServer
from tests.fakes.wire_stream import RequestRecord

THREAD_URL = re.compile(r"/chat/([A-Za-z0-9_-]+)$")
REPLY_TIMEOUT = 30_000  # ms: the slowest scripted reply here takes ~6 s
LIVE = "[data-testid=live-reply]"  # the reply streaming in this tab


def marker() -> str:
    """A word that ties a message to the scripted server's record of its request."""
    return f"m{uuid.uuid4().hex[:10]}"


def open_chat(page: Page, path: str = "/") -> None:
    """Load a page and wait until its on_load has run (the picker shows the model)."""
    page.goto(path)
    expect(page.get_by_test_id("model-picker")).to_contain_text("GPT-4.1 mini")


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")


def thread_id(page: Page) -> str:
    expect(page).to_have_url(THREAD_URL)
    match = THREAD_URL.search(page.url)
    assert match
    return match.group(1)


def words(text: str) -> str:
    """Whitespace-normalised text: markdown blocks and the live head/tail split add newlines."""
    return " ".join(text.split())


def reply_text(reply: Locator) -> str:
    """The rendered markdown of a reply, without its badges, buttons and model label."""
    return words(" ".join(reply.locator(".md").all_inner_texts()))


def scripted(n: int) -> str:
    """The rendered words of the scripted server's `[[tokens=n]]` reply (fences drawn as a box)."""
    lines = "".join(text_pieces(n)).splitlines()
    return words("\n".join(line for line in lines if not line.startswith("```")))


def requests_for(wire: ScriptedServer, tag: str) -> list[RequestRecord]:
    return [
        r for r in wire.requests
        if isinstance(r.body, dict) and tag in last_user_text(r.body.get("messages") or [])
    ]


def wait_for_requests(wire: ScriptedServer, tag: str, count: int, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while len(found := requests_for(wire, tag)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} requests for {tag}, saw {len(found)}")
        time.sleep(0.05)
    return found


def wait_for_growth(page: Page, selector: str, than: int) -> int:
    """Wait until the element's text is longer than `than` characters; return the new length."""
    handle = page.wait_for_function(
        "([sel, n]) => { const el = document.querySelector(sel);"
        " return el && el.innerText.length > n ? el.innerText.length : false; }",
        arg=[selector, than],
    )
    return int(handle.json_value())

