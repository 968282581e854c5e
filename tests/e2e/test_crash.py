"""A crash mid-reply, for real: the app's process group is killed with SIGKILL while a reply
streams, and started again with plain `reflex run` (no recovery step). The thread must not be
stuck: it shows the kept text marked interrupted, offers Regenerate and takes new messages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp
from tests.e2e.ui import (
    LIVE,
    REPLY_TIMEOUT,
    marker,
    open_chat,
    reply_text,
    scripted,
    send,
    thread_id,
    wait_for_growth,
    words,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
RECOVERY_SECONDS = 30  # from the app answering again to the thread being usable
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_a_reply_cut_off_by_a_crash_is_interrupted_not_stuck(
    page: Page, app: RunningApp, wire
) -> None:
    open_chat(page)
    tag = marker()
    send(page, f"crash {tag} [[tokens=3000 rate=40]]")  # over a minute of streaming
    tid = thread_id(page)
    wait_for_growth(page, LIVE, 300)
    page.wait_for_timeout(2_500)  # checkpoints (one a second) have saved some of it
    on_screen = words(page.locator(LIVE).inner_text())

    killed = time.monotonic()
    app.kill()  # SIGKILL to the whole process group: no clean-up code runs
    app.start()  # as a supervisor would: `reflex run`, no recovery step
    back = time.monotonic()

    page.goto(f"/chat/{tid}")
    reply = page.get_by_test_id("assistant-message").last
    expect(reply).to_have_attribute("data-status", "interrupted",
                                    timeout=RECOVERY_SECONDS * 1000)
    recovered = time.monotonic()
    assert recovered - back < RECOVERY_SECONDS
    print(f"restart took {back - killed:.1f} s; interrupted shown {recovered - back:.1f} s later")
    kept = reply_text(reply)
    full = scripted(3000)
    # The last checkpoint's text is kept: most of what was on screen, never more than was sent.
    assert len(kept) > len(on_screen) / 3 and full.startswith(kept)
    note = page.get_by_test_id("reply-interrupted")
    expect(note).to_contain_text("Interrupted")
    expect(note).to_contain_text("The server restarted")
    expect(note.get_by_test_id("regenerate-button")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)  # for a person to look at (test-results/ is not tracked)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SHOTS / "interrupted.png"))
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path=str(SHOTS / "interrupted-narrow.png"))
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.get_by_test_id("thread-spinner")).to_have_count(0)
    expect(page.get_by_test_id("stop-button")).to_have_count(0)

    # The thread takes a new message at once: no "wait for the current reply" refusal.
    send(page, f"after the crash {tag}")
    expect(page.get_by_test_id("notice")).to_have_count(0)
    last = page.get_by_test_id("assistant-message").last
    expect(last).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(last).to_contain_text(f"after the crash {tag}")  # the scripted model echoes

