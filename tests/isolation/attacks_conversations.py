"""Bob's attacks on the conversation handlers (merged into test_handlers.ATTACKS): the
sidebar's rename, pin, archive, delete and undo; branches, forks and edits; drafts; search.

Each sends Alice's thread or message ids (or points the server-held id at hers) and checks
that Bob is told "not found", sees nothing of hers, and that (checked by the shared test)
none of her rows changed. Search is checked with her own words: Bob finds only his.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from sqlmodel import Session

from chatapp.errors import NotFoundError
from chatapp.models import Draft
from chatapp.state.composer import ComposerState, ModelMenuState
from chatapp.state.palette import PaletteState
from chatapp.state.sidebar import SidebarState
from chatapp.state.thread import ThreadState, loaded
from tests.isolation.conftest import MODEL, World
from tests.isolation.harness import Outcome, Tab
from tests.isolation.screen import chat_screen

Attack = Callable[[World, Tab], Awaitable[set[str]]]
NOT_FOUND = NotFoundError.user_message


def _refused(out: Outcome) -> None:
    """The tab was told "not found" (a toast) and nothing failed."""
    assert out.errors == []
    assert NOT_FOUND in out.text(), out.text()


async def _bobs_sidebar(w: World, tab: Tab) -> list[str]:
    return [t.id for t in (await tab.state(SidebarState)).threads]


def _thread_ids(w: World) -> list[str]:
    return [w.alice.thread_id, w.alice.streaming_thread_id, secrets.token_urlsafe(16)]


async def load_more_threads(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    async with tab.modify(SidebarState) as sidebar:  # as if a page had ended at Alice's
        sidebar._cursor = "2000-01-01T00:00:00+00:00|" + w.alice.thread_id
    out = await tab.call(SidebarState, "load_more_threads")
    assert out.errors == []
    assert set(await _bobs_sidebar(w, tab)) == {w.bob.thread_id, w.bob.streaming_thread_id}
    return set()


async def show_archived(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    for archived in (True, False):
        assert (await tab.call(SidebarState, "show_archived", archived=archived)).errors == []
    assert set(await _bobs_sidebar(w, tab)) == {w.bob.thread_id, w.bob.streaming_thread_id}
    return set()


async def start_rename(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    out = await tab.call(SidebarState, "start_rename", thread_id=w.alice.thread_id)
    assert out.errors == []  # it only picks a row of Bob's list to edit: none matches
    return {w.alice.thread_id}


async def cancel_rename(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    assert (await tab.call(SidebarState, "cancel_rename")).errors == []
    return set()


async def rename(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    for thread_id in _thread_ids(w):
        _refused(await tab.call(SidebarState, "rename",
                                form_data={"thread_id": thread_id, "title": "Bob's now"}))
    return set(_thread_ids(w))


async def set_pinned(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    for thread_id in _thread_ids(w):
        _refused(await tab.call(SidebarState, "set_pinned", thread_id=thread_id, pinned=True))
    return set(_thread_ids(w))


async def set_archived(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    for thread_id in _thread_ids(w):
        _refused(await tab.call(SidebarState, "set_archived", thread_id=thread_id,
                                archived=True))
    return set(_thread_ids(w))


async def delete(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    for thread_id in _thread_ids(w):
        out = await tab.call(SidebarState, "delete", thread_id=thread_id)
        _refused(out)
        assert not [e for e in out.events if "redirect" in e.name]
    return set(_thread_ids(w))


async def undo_delete(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    async with tab.modify(SidebarState) as sidebar:
        sidebar._deleted_id = w.alice.thread_id
    _refused(await tab.call(SidebarState, "undo_delete"))
    return {w.alice.thread_id}


def _alices_messages(w: World) -> list[str]:
    a = w.alice
    return [a.user_message_id, a.finished_reply_id, a.followup_id, a.failed_reply_id,
            a.streaming_reply_id, secrets.token_urlsafe(16)]


async def _on_bobs_thread(w: World, tab: Tab) -> list[object]:
    await tab.open(f"/chat/{w.bob.thread_id}")
    return (await chat_screen(tab)).messages


async def switch_branch(w: World, tab: Tab) -> set[str]:
    before = await _on_bobs_thread(w, tab)
    for message_id in _alices_messages(w):
        await tab.call(ThreadState, "dismiss_notice")
        out = await tab.call(ThreadState, "switch_branch", message_id=message_id)
        thread = await tab.state(ThreadState)
        assert (thread.notice, await loaded(thread), out.errors) == (NOT_FOUND, before, [])
    return set(_alices_messages(w))


async def fork(w: World, tab: Tab) -> set[str]:
    await _on_bobs_thread(w, tab)
    for message_id in _alices_messages(w):
        out = await tab.call(ThreadState, "fork", message_id=message_id)
        thread = await tab.state(ThreadState)
        assert (thread.notice, out.errors) == (NOT_FOUND, [])
        assert not [e for e in out.events if "redirect" in e.name]
    return set(_alices_messages(w))


async def start_edit(w: World, tab: Tab) -> set[str]:
    await _on_bobs_thread(w, tab)
    out = await tab.call(ThreadState, "start_edit", message_id=w.alice.user_message_id)
    assert out.errors == []  # it only picks which of Bob's messages shows the edit box
    return {w.alice.user_message_id}


async def cancel_edit(w: World, tab: Tab) -> set[str]:
    await _on_bobs_thread(w, tab)
    assert (await tab.call(ThreadState, "cancel_edit")).errors == []
    return set()


async def thread_dismiss_notice(w: World, tab: Tab) -> set[str]:
    await _on_bobs_thread(w, tab)
    assert (await tab.call(ThreadState, "dismiss_notice")).errors == []
    return set()


async def load_newer(w: World, tab: Tab) -> set[str]:
    out = await tab.open(f"/chat/{w.alice.thread_id}")
    assert (await chat_screen(tab)).not_found and out.errors == []
    async with tab.modify(ThreadState) as thread:  # as if a window ended higher up
        thread.has_newer = True
    out = await tab.call(ThreadState, "load_newer")
    assert ((await chat_screen(tab)).messages, out.errors) == ([], [])
    return {w.alice.thread_id}


async def edit_message(w: World, tab: Tab) -> set[str]:
    before = await _on_bobs_thread(w, tab)
    requests = len(w.wire.requests)
    for message_id in _alices_messages(w):
        await tab.call(ComposerState, "dismiss_notice")
        out = await tab.call(ComposerState, "edit_message",
                             form_data={"message_id": message_id, "message": "Bob's version"})
        chat = await chat_screen(tab)
        assert (chat.notice, chat.messages, out.errors) == (NOT_FOUND, before, [])
    assert len(w.wire.requests) == requests
    return set(_alices_messages(w))


async def retry_with(w: World, tab: Tab) -> set[str]:
    before = await _on_bobs_thread(w, tab)
    for message_id in _alices_messages(w):
        await tab.call(ComposerState, "dismiss_notice")
        out = await tab.call(ComposerState, "retry_with", message_id=message_id, model_id=MODEL)
        chat = await chat_screen(tab)
        assert (chat.notice, chat.messages, out.errors) == (NOT_FOUND, before, [])
    return set(_alices_messages(w))


async def choose_model_for(w: World, tab: Tab) -> set[str]:
    """Opening the dialog for Alice's reply does nothing; choosing a model there is refused."""
    before = await _on_bobs_thread(w, tab)
    out = await tab.call(ModelMenuState, "choose", message_id=w.alice.finished_reply_id)
    assert out.errors == []
    out = await tab.call(ComposerState, "retry_with", message_id=w.alice.finished_reply_id,
                         model_id=MODEL)
    chat = await chat_screen(tab)
    assert (chat.notice, chat.messages, out.errors) == (NOT_FOUND, before, [])
    assert (await tab.state(ModelMenuState)).target == ""
    return {w.alice.finished_reply_id}


async def close_model_dialog(w: World, tab: Tab) -> set[str]:
    await _on_bobs_thread(w, tab)
    assert (await tab.call(ModelMenuState, "closed", shown=False)).errors == []
    return set()


async def save_draft(w: World, tab: Tab) -> set[str]:
    out = await tab.open(f"/chat/{w.alice.thread_id}")
    assert w.alice.texts[6] not in out.text()  # her draft is not restored into his composer
    out = await tab.call(ComposerState, "save_draft", text="Bob typed this")
    chat = await chat_screen(tab)
    assert (chat.notice, out.errors) == (NOT_FOUND, [])
    with Session(w.engine) as s:
        assert s.get(Draft, (w.bob.user_id, w.alice.thread_id)) is None
    return {w.alice.thread_id}


async def open_palette(w: World, tab: Tab) -> set[str]:
    await tab.open("/")
    assert (await tab.call(PaletteState, "open_palette")).errors == []
    assert (await tab.call(PaletteState, "opened", shown=False)).errors == []
    return set()


async def opened(w: World, tab: Tab) -> set[str]:
    return await open_palette(w, tab)


async def search(w: World, tab: Tab) -> set[str]:
    """Both have the same kinds of words; each tag is one person's. Bob finds only his."""
    await tab.open("/")
    alice_tag = w.alice.texts[0].split()[2]
    for include in (False, True):
        await tab.call(PaletteState, "toggle_archived", include=include)
        out = await tab.call(PaletteState, "search", query=alice_tag)
        palette = await tab.state(PaletteState)
        assert (palette.results, palette.searched, out.errors) == ([], True, [])
        await tab.call(PaletteState, "search", query="question")  # words both of them wrote
        found = (await tab.state(PaletteState)).results
        assert {r.thread_id for r in found} == {w.bob.thread_id, w.bob.streaming_thread_id}
    return {alice_tag}


async def toggle_archived(w: World, tab: Tab) -> set[str]:
    return await search(w, tab)


CONVERSATION_ATTACKS: dict[str, Attack] = {
    "SidebarState.load_more_threads": load_more_threads,
    "SidebarState.show_archived": show_archived,
    "SidebarState.start_rename": start_rename,
    "SidebarState.cancel_rename": cancel_rename,
    "SidebarState.rename": rename,
    "SidebarState.set_pinned": set_pinned,
    "SidebarState.set_archived": set_archived,
    "SidebarState.delete": delete,
    "SidebarState.undo_delete": undo_delete,
    "ThreadState.switch_branch": switch_branch,
    "ThreadState.fork": fork,
    "ThreadState.start_edit": start_edit,
    "ThreadState.cancel_edit": cancel_edit,
    "ThreadState.dismiss_notice": thread_dismiss_notice,
    "ThreadState.load_newer": load_newer,
    "ComposerState.edit_message": edit_message,
    "ComposerState.retry_with": retry_with,
    "ComposerState.save_draft": save_draft,
    "ModelMenuState.choose": choose_model_for,
    "ModelMenuState.closed": close_model_dialog,
    "PaletteState.open_palette": open_palette,
    "PaletteState.opened": opened,
    "PaletteState.search": search,
    "PaletteState.toggle_archived": toggle_archived,
}
