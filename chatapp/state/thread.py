"""The open thread as the tab shows it: a window of its visible branch (paged both ways, a
bounded number of messages however far one scrolls), branch switching, forks, not-found.

Other states change it only through this module's functions (`open_thread`, `show_turn`,
`show_final`, `cut_from`, `to_latest`), never through its private members.
"""

from __future__ import annotations

import dataclasses
import json

import reflex as rx

from chatapp import db
from chatapp.errors import ChatappError, NotFoundError
from chatapp.models import MessageStatus
from chatapp.services.chat import branches, threads, turns
from chatapp.state.user import reader_id
from chatapp.state.views import MessageView, message_view

PAGE_SIZE = branches.PAGE
# The most messages the page holds: past it, the far end is unloaded (and loads again when
# scrolled back to), so a long scroll never piles up elements.
MAX_LOADED = 4 * PAGE_SIZE
REVEAL = "window.chatappReveal && window.chatappReveal({id})"


def thread_id_from_path(path: str) -> str:
    """The id in `/chat/<id>` (empty on `/`)."""
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "chat" else ""


class ThreadState(rx.State):
    current_thread_id: str = ""
    not_found: bool = False
    loaded: bool = False
    messages: list[MessageView] = []
    has_more: bool = False  # older messages above the window
    has_newer: bool = False  # newer messages below it (opened around an old message)
    highlight_id: str = ""  # the message a search result opened
    editing_id: str = ""  # the user message being edited in place
    forked_from_id: str = ""  # the thread this one was branched off from, and its title
    forked_from_title: str = ""
    notice: str = ""
    stats_for_nerds: bool = False  # show speed, tokens and cost under replies

    @rx.var
    def busy(self) -> bool:
        """A reply in this thread is still being written."""
        return any(m.active for m in self.messages[-2:])

    @rx.event
    async def load_earlier(self) -> None:
        """The page above the window (scrolled to its top)."""
        if not self.messages:
            return
        first = self.messages[0].id
        page = await self._fetch(lambda s, user_id: branches.page_before(
            s, user_id=user_id, thread_id=self.current_thread_id, before_id=first))
        if page is None:
            return
        views = _views(page)
        self.messages = views + self.messages
        self.has_more = page.has_more
        if len(self.messages) > MAX_LOADED:
            self.messages = self.messages[:MAX_LOADED]
            self.has_newer = True

    @rx.event
    async def load_newer(self) -> None:
        """The page below the window (scrolled to its bottom, when it does not end at the
        newest message)."""
        if not self.messages or not self.has_newer:
            return
        last = self.messages[-1].id
        page = await self._fetch(lambda s, user_id: branches.page_after(
            s, user_id=user_id, thread_id=self.current_thread_id, after_id=last))
        if page is None:
            return
        self.messages = self.messages + _views(page)
        self.has_newer = page.has_newer
        if len(self.messages) > MAX_LOADED:
            self.messages = self.messages[-MAX_LOADED:]
            self.has_more = True

    @rx.event
    async def switch_branch(self, message_id: str):
        """Show the sibling branch `message_id` (the navigator's ‹ and ›); stored, so a reload
        and the composer follow it."""
        self.notice = ""
        try:
            user_id = await reader_id(self)
            await db.run(lambda s: branches.switch_branch(s, user_id=user_id,
                                                          message_id=message_id))
        except ChatappError as exc:
            self.notice = exc.user_message
            return None
        await _around(self, user_id, message_id)
        return rx.call_script(REVEAL.format(id=json.dumps(message_id)))

    @rx.event
    async def fork(self, message_id: str):
        """"Branch off into a new chat" at `message_id`: opens the new thread."""
        self.notice = ""
        try:
            user_id = await reader_id(self)
            copy = await db.run(lambda s: branches.fork(s, user_id=user_id,
                                                        message_id=message_id))
        except ChatappError as exc:
            self.notice = exc.user_message
            return None
        return rx.redirect(f"/chat/{copy.id}")

    @rx.event
    def start_edit(self, message_id: str) -> None:
        self.editing_id = message_id  # only picks which message shows the edit box

    @rx.event
    def cancel_edit(self) -> None:
        self.editing_id = ""

    @rx.event
    def dismiss_notice(self) -> None:
        self.notice = ""

    async def _fetch(self, read) -> branches.MessagePage | None:  # type: ignore[no-untyped-def]
        try:
            user_id = await reader_id(self)
            return await db.run(lambda s: read(s, user_id))
        except NotFoundError:
            self.not_found, self.messages = True, []
        except ChatappError as exc:
            self.notice = exc.user_message
        return None


def _views(page: branches.MessagePage) -> list[MessageView]:
    return [message_view(m, page.siblings.get(m.id)) for m in page.messages]


def _show(state: ThreadState, page: branches.MessagePage) -> None:
    state.messages = _views(page)
    state.has_more, state.has_newer = page.has_more, page.has_newer


async def open_thread(state: ThreadState, *, user_id: str, thread_id: str,
                      stats_for_nerds: bool, at: str = "") -> str | None:
    """Show `thread_id` (nothing for a new chat) from its newest page, or around the message
    `at` (a search result); the thread's model id, or None for a new chat or a thread that is
    not the user's."""
    state.current_thread_id, state.not_found = thread_id, False
    state.messages, state.has_more, state.has_newer = [], False, False
    state.highlight_id = state.editing_id = state.notice = ""
    state.forked_from_id = state.forked_from_title = ""
    state.stats_for_nerds = stats_for_nerds
    model_id = None
    if thread_id:
        try:
            if at:
                model_id = await _around(state, user_id, at, thread_id=thread_id)
            if model_id is None:
                page = await db.run(lambda s: branches.visible_page(
                    s, user_id=user_id, thread_id=thread_id))
                _show(state, page)
                model_id = page.model_id
            origin = await db.run(lambda s: threads.fork_origin(s, user_id=user_id,
                                                                thread_id=thread_id))
            if origin:
                state.forked_from_id, state.forked_from_title = origin
        except NotFoundError:
            state.not_found, state.messages = True, []
            model_id = None
    state.loaded = True
    return model_id


async def _around(state: ThreadState, user_id: str, message_id: str,
                  thread_id: str | None = None) -> str | None:
    """Show the page around `message_id` (switching to its branch), highlighted; None when it
    is not a message of the user's (in `thread_id`, when given)."""
    try:
        page = await db.run(lambda s: branches.page_around(s, user_id=user_id,
                                                           message_id=message_id))
    except NotFoundError:
        return None
    if thread_id is not None and (not page.messages
                                  or page.messages[0].thread_id != thread_id):
        return None
    _show(state, page)
    state.highlight_id = message_id
    return page.model_id


async def to_latest(state: ThreadState, user_id: str) -> None:
    """Show the newest page again (before a send from a window that ends higher up)."""
    if state.has_newer:
        page = await db.run(lambda s: branches.visible_page(
            s, user_id=user_id, thread_id=state.current_thread_id))
        _show(state, page)


def last_message(state: ThreadState) -> MessageView | None:
    return state.messages[-1] if state.messages else None


def show_turn(state: ThreadState, turn: turns.Turn, *, text: str | None,
              model_label: str) -> MessageView:
    """A turn just begun: the user's message (None when a reply is regenerated) and the live
    placeholder of its reply, which the live block draws until it ends."""
    if text is not None:
        state.messages.append(MessageView(id=turn.user_message_id or "", role="user",
                                          content=text.strip()))
    placeholder = MessageView(id=turn.assistant_message_id, role="assistant",
                              status=MessageStatus.PENDING,
                              active=True, model_label=model_label, live=True)
    state.messages.append(placeholder)
    state.current_thread_id = turn.thread_id
    state.editing_id = state.highlight_id = ""
    return placeholder


def show_branches(state: ThreadState, found: dict[str, branches.Siblings]) -> None:
    """Give messages just added their navigators (a regenerated reply, an edited message)."""
    for i, m in enumerate(state.messages):
        if m.id in found:
            sib = found[m.id]
            state.messages[i] = dataclasses.replace(
                m, branch=f"{sib.index} / {sib.count}", previous_branch_id=sib.previous_id,
                next_branch_id=sib.next_id)


def show_final(state: ThreadState, view: MessageView) -> None:
    """Replace a reply's placeholder with how it is stored now."""
    for i, m in enumerate(state.messages):
        if m.id == view.id:
            view.model_label = view.model_label or m.model_label
            if not view.branch:  # the navigator it was given when it began
                view.branch, view.previous_branch_id, view.next_branch_id = (
                    m.branch, m.previous_branch_id, m.next_branch_id)
            state.messages[i] = view
            break


def cut_from(state: ThreadState, message_id: str) -> None:
    """Take a message and everything below it off the screen: a reply being regenerated or a
    message being edited starts a new branch there."""
    for i, m in enumerate(state.messages):
        if m.id == message_id:
            state.messages = state.messages[:i]
            state.has_newer = False
            return
