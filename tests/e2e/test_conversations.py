"""Keeping conversations, in real Chromium: the sidebar's actions, edits and regenerations as
branches, forks, copy, search with the palette, drafts, shortcuts, long threads, the drawer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from chatapp.db import make_engine
from chatapp.models import Message, MessageRole, Thread
from chatapp.services.chat.branches import FIRST_PAGE, PAGE
from tests.e2e.conftest import RunningApp
from tests.e2e.ui import REPLY_TIMEOUT, marker, open_chat, send, thread_id

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
MOD = "Control"  # Chromium on Linux: Ctrl (the app takes Cmd as well)


def _finished(page: Page, count: int = 1) -> None:
    replies = page.get_by_test_id("assistant-message")
    expect(replies).to_have_count(count, timeout=REPLY_TIMEOUT)
    expect(replies.last).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)


def _chat(page: Page, text: str) -> str:
    open_chat(page)
    send(page, f"{text} [[tokens=8]]")
    tid = thread_id(page)
    _finished(page)
    return tid


def _row(page: Page, title: str):
    return page.get_by_test_id("thread-row").filter(has_text=title)


def _menu(page: Page, title: str, item: str) -> None:
    row = _row(page, title)
    row.hover()
    row.get_by_test_id("thread-menu").click()
    page.get_by_test_id(item).click()


def test_rename_pin_archive_restore_delete_and_undo(page: Page) -> None:
    a, b = marker(), marker()
    _chat(page, f"first {a}")
    second = _chat(page, f"second {b}")

    # Rename in place: Esc cancels, Enter saves; the title stays after a reload.
    _menu(page, a, "menu-rename")
    field = page.get_by_test_id("rename-input")
    field.fill("Not this")
    field.press("Escape")
    expect(page.get_by_test_id("rename-input")).to_have_count(0)
    expect(_row(page, a)).to_have_count(1)
    _menu(page, a, "menu-rename")
    page.get_by_test_id("rename-input").fill(f"Renamed {a}")
    page.get_by_test_id("rename-input").press("Enter")
    expect(_row(page, f"Renamed {a}")).to_have_count(1)

    # Pin: a Pinned group on top.
    _menu(page, a, "menu-pin")
    labels = page.get_by_test_id("group-label")
    expect(labels.first).to_have_text("Pinned")
    expect(page.get_by_test_id("thread-row").first).to_contain_text(f"Renamed {a}")
    page.reload()
    expect(page.get_by_test_id("group-label").first).to_have_text("Pinned")
    expect(page.get_by_test_id("thread-row").first).to_contain_text(f"Renamed {a}")

    # Archive (right-click works too): gone from the list, in the Archived view, restorable.
    _row(page, b).click(button="right")
    page.get_by_test_id("menu-archive").click()
    expect(_row(page, b)).to_have_count(0)
    page.get_by_test_id("archived-toggle").click()
    expect(_row(page, b)).to_have_count(1)
    expect(_row(page, a)).to_have_count(0)
    _menu(page, b, "menu-restore")
    expect(_row(page, b)).to_have_count(0)
    page.get_by_test_id("archived-toggle").click()
    expect(_row(page, b)).to_have_count(1)

    # Delete with Undo, then delete the open thread: a new chat opens.
    _menu(page, b, "menu-delete")
    expect(_row(page, b)).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(_row(page, b)).to_have_count(1)
    page.goto(f"/chat/{second}")
    expect(page.get_by_test_id("user-message")).to_contain_text(b)
    _menu(page, b, "menu-delete")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(_row(page, b)).to_have_count(0)
    page.goto(f"/chat/{second}")
    expect(page.get_by_test_id("not-found")).to_be_visible()


def test_edit_makes_a_branch_the_navigator_switches_and_reload_keeps_it(page: Page) -> None:
    tag = marker()
    _chat(page, f"original {tag}")
    tid = thread_id(page)
    user = page.get_by_test_id("user-message")
    user.hover()
    user.get_by_test_id("edit-button").click()
    page.get_by_test_id("edit-input").fill(f"edited {tag} [[tokens=8]]")
    page.get_by_test_id("edit-save").click()
    # The new branch first (until it shows, the old reply is the one on screen), then its reply.
    expect(page.get_by_test_id("user-message")).to_contain_text(f"edited {tag}")
    _finished(page)
    expect(page.get_by_test_id("branch-position").first).to_have_text("2 / 2")

    page.get_by_test_id("branch-previous").first.click()
    expect(page.get_by_test_id("user-message")).to_contain_text(f"original {tag}")
    expect(page.get_by_test_id("branch-position").first).to_have_text("1 / 2")
    page.reload()
    expect(page.get_by_test_id("user-message")).to_contain_text(f"original {tag}")

    # The composer continues the branch on screen.
    send(page, f"follow-up {tag} [[tokens=8]]")
    _finished(page, 2)
    expect(page.get_by_test_id("user-message").first).to_contain_text(f"original {tag}")
    assert thread_id(page) == tid

    # Regenerate with another model from the small menu: a sibling reply, 1 / 2 → 2 / 2.
    reply = page.get_by_test_id("assistant-message").last
    reply.hover()
    reply.get_by_test_id("regenerate-other").click()
    page.get_by_test_id("regenerate-with").first.click()
    _finished(page, 2)
    expect(page.get_by_test_id("assistant-message").last.get_by_test_id("branch-position")) \
        .to_have_text("2 / 2")


def test_fork_copy_and_the_link_back(page: Page) -> None:
    tag = marker()
    original = _chat(page, f"fork me {tag}")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply = page.get_by_test_id("assistant-message")
    reply.hover()
    reply.get_by_test_id("copy-button").click()
    expect(page.get_by_text("Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied and copied in reply.inner_text().replace("\n", " ") or copied.strip()

    reply.hover()
    reply.get_by_test_id("fork-button").click()
    expect(page).not_to_have_url(re.compile(original))
    fork = thread_id(page)
    assert fork != original
    expect(page.get_by_test_id("forked-from")).to_be_visible()
    expect(page.get_by_test_id("user-message")).to_contain_text(f"fork me {tag}")
    expect(page.get_by_test_id("thread-row").filter(has_text=tag)).to_have_count(2)
    page.get_by_test_id("forked-from").get_by_role("link").click()
    expect(page).to_have_url(re.compile(original))


def _owner_of(app: RunningApp, thread: str) -> str:
    engine = make_engine(app.database_url)
    with Session(engine) as s:
        found = s.get(Thread, thread)
        assert found is not None
        return found.user_id


def _long_thread(app: RunningApp, user_id: str, n: int, needle: str, at: int) -> str:
    """A thread of `n` messages for `user_id`, written straight to the database; message
    `at` holds `needle`."""
    engine = make_engine(app.database_url)
    with Session(engine) as s:
        thread = Thread(user_id=user_id, title=f"Long {needle[:4]}", model_id="openai/gpt-4.1-mini",
                        title_generated=True)
        s.add(thread)
        s.flush()
        parent = None
        rows = []
        for i in range(n):
            text = f"message {i} about the {needle}" if i == at else f"message {i}"
            role = MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT
            rows.append(Message(thread_id=thread.id, parent_id=parent, role=role, content=text,
                                model="openai/gpt-4.1-mini"))
            parent = rows[-1].id
        s.add_all(rows)
        thread.leaf_message_id = parent
        s.add(thread)
        s.commit()
        return thread.id
    engine.dispose()


def test_palette_search_jumps_to_an_old_message_on_the_right_page(
    page: Page, app: RunningApp
) -> None:
    first = _chat(page, "hello there")
    needle = marker()
    long_id = _long_thread(app, _owner_of(app, first), 3000, needle, at=10)
    open_chat(page, f"/chat/{first}")
    page.keyboard.press(f"{MOD}+k")
    expect(page.get_by_test_id("palette")).to_be_visible()
    expect(page.get_by_test_id("palette-recent").first).to_be_visible()
    page.get_by_test_id("palette-input").fill(needle)
    hit = page.get_by_test_id("search-hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text(needle)
    hit.click()
    expect(page).to_have_url(re.compile(long_id))
    target = page.locator(".highlight")
    expect(target).to_contain_text(f"message 10 about the {needle}")
    expect(target).to_be_in_viewport()
    expect(page.get_by_test_id("palette")).to_have_count(0)
    # The page holds a window around it, not 3,000 messages.
    assert page.locator("[data-message-id]").count() <= 60


def test_scrolling_up_loads_earlier_pages_in_place_and_stays_bounded(
    page: Page, app: RunningApp
) -> None:
    first = _chat(page, "hello there")
    long_id = _long_thread(app, _owner_of(app, first), 1000, marker(), at=0)
    page.goto(f"/chat/{long_id}")
    expect(page.get_by_text("message 999", exact=True)).to_be_visible()
    page.locator("#messages").hover()
    # Opening shows the newest FIRST_PAGE messages; each page above holds PAGE more.
    expect(page.locator("[data-message-id]")).to_have_count(FIRST_PAGE)
    for page_no in range(1, 7):
        oldest = 1000 - FIRST_PAGE - PAGE * (page_no - 1)
        expect(page.get_by_text(f"message {oldest}", exact=True)).to_be_attached()
        page.get_by_text(f"message {oldest}", exact=True).scroll_into_view_if_needed()
        page.mouse.wheel(0, -150)  # the reader scrolls up a little past the oldest loaded
        expect(page.get_by_text(f"message {oldest - 1}", exact=True)).to_be_attached(
            timeout=10_000)
        # The message that was on screen stays where it was (no jump to the new top).
        expect(page.get_by_text(f"message {oldest}", exact=True)).to_be_in_viewport()
    count = page.locator("[data-message-id]").count()
    assert count <= 240, count  # far pages unloaded
    expect(page.get_by_test_id("load-newer")).to_be_attached()


def test_a_draft_survives_a_reload_and_reaches_another_tab(page: Page) -> None:
    tid = _chat(page, "a thread for drafts")
    page.get_by_test_id("composer").fill("half a thought, not sent")
    page.wait_for_timeout(1500)  # the debounced save
    page.reload()
    expect(page.get_by_test_id("composer")).to_have_value("half a thought, not sent")
    other = page.context.new_page()
    other.goto(f"/chat/{tid}")
    expect(other.get_by_test_id("composer")).to_have_value("half a thought, not sent")
    other.close()
    send(page, "half a thought, not sent [[tokens=8]]")
    _finished(page, 2)
    page.reload()
    expect(page.get_by_test_id("composer")).to_have_value("")


def test_shortcuts_new_chat_sidebar_help_and_esc_stops(page: Page) -> None:
    _chat(page, "shortcut thread")
    page.keyboard.press(f"{MOD}+Shift+O")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("composer")).to_be_focused()
    page.keyboard.press(f"{MOD}+b")
    expect(page.locator(".sidebar")).to_be_hidden()
    page.keyboard.press(f"{MOD}+b")
    expect(page.locator(".sidebar")).to_be_visible()
    page.keyboard.press(f"{MOD}+/")
    expect(page.get_by_test_id("shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("shortcuts")).to_have_count(0)
    # The composer keeps its keys: Shift+Enter is a newline, typing "b" types "b".
    composer = page.get_by_test_id("composer")
    composer.type("ab")
    composer.press("Shift+Enter")
    composer.type("c")
    expect(composer).to_have_value("ab\nc")
    composer.fill("a long one [[tokens=400 rate=20]]")
    composer.press("Enter")
    expect(page.get_by_test_id("stop-button")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "cancelled", timeout=REPLY_TIMEOUT)


def test_narrow_screen_sidebar_is_a_drawer(new_context) -> None:
    page = new_context(viewport={"width": 390, "height": 800}).new_page()
    _chat(page, "narrow")
    expect(page.locator(".sidebar")).not_to_be_in_viewport()
    page.locator(".topbar").get_by_test_id("sidebar-toggle").click()
    expect(page.locator(".sidebar")).to_be_in_viewport()
    page.get_by_test_id("new-chat").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".sidebar")).not_to_be_in_viewport()


def test_sidebar_groups_follow_the_browsers_time_zone(new_context, app: RunningApp) -> None:
    # A thread last active just across midnight from now: which side is the browser's day.
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now.hour >= 2:  # 23:30 yesterday at UTC-1, 00:30 today in UTC
        zone, moment, label = "Etc/GMT+1", midnight + timedelta(minutes=30), "Yesterday"
    else:  # 01:30 today at UTC+3, 22:30 yesterday in UTC
        zone, moment, label = "Etc/GMT-3", midnight - timedelta(minutes=90), "Today"
    page = new_context(timezone_id=zone).new_page()
    tid = _chat(page, "a thread near midnight")
    engine = make_engine(app.database_url)
    with Session(engine) as s:
        thread = s.get(Thread, tid)
        assert thread is not None
        thread.updated_at = moment
        s.add(thread)
        s.commit()
    engine.dispose()
    page.goto("/")
    expect(page.get_by_test_id("group-label")).to_have_text([label])
