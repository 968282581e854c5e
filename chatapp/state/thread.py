"""The open thread as the tab shows it: a window of its visible branch (paged both ways, a
bounded number of messages however far one scrolls), branch switching, forks, not-found.

The window is held in SLOTS page vars, each drawn by its own list in the page, in the order
`slot_positions` gives (CSS `order`): a page loaded above or below fills one slot, so only that
page goes over the wire and only it renders; the others are not touched. Past SLOTS pages the
far end is unloaded.

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
SLOTS = 4  # pages held at once: past them the far end is unloaded (and loads again later)
MAX_LOADED = SLOTS * PAGE_SIZE
REVEAL = "window.chatappReveal && window.chatappReveal({id})"


def thread_id_from_path(path: str) -> str:
    """The id in `/chat/<id>` (empty on `/`)."""
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "chat" else ""


class ThreadState(rx.State):
    current_thread_id: str = ""
    not_found: bool = False
    loaded: bool = False
    # The window, a page per slot; `slot_order` lists the filled slots oldest page first, and
    # `slot_positions[k]` is where slot k is drawn.
    slot0: list[MessageView] = []
    slot1: list[MessageView] = []
    slot2: list[MessageView] = []
    slot3: list[MessageView] = []
    slot_order: list[int] = []
    slot_positions: list[int] = [0, 1, 2, 3]
    has_more: bool = False  # older messages above the window
    has_newer: bool = False  # newer messages below it (opened around an old message)
    highlight_id: str = ""  # the message a search result opened
    editing_id: str = ""  # the user message being edited in place
    forked_from_id: str = ""  # the thread this one was branched off from, and its title
    forked_from_title: str = ""
    notice: str = ""
    stats_for_nerds: bool = False  # show speed, tokens and cost under replies

    # Computed vars name the slots themselves: Reflex finds what they depend on in their code.
    @rx.var
    def busy(self) -> bool:
        """A reply in this thread is still being written."""
        slots = (self.slot0, self.slot1, self.slot2, self.slot3)
        newest = [m for k in self.slot_order for m in slots[k]][-2:]
        return any(m.active for m in newest)

    @rx.var
    def empty(self) -> bool:
        """No message is on screen."""
        slots = (self.slot0, self.slot1, self.slot2, self.slot3)
        return not any(slots[k] for k in self.slot_order)

    @rx.event
    async def load_earlier(self) -> None:
        """The page above the window (scrolled to its top)."""
        shown = loaded(self)
        if not shown:
            return
        first = shown[0].id
        page = await self._fetch(lambda s, user_id: branches.page_before(
            s, user_id=user_id, thread_id=self.current_thread_id, before_id=first))
        if page is None or not page.messages:
            self.has_more = False if page is not None else self.has_more
            return
        if len(self.slot_order) == SLOTS:  # unload the newest page
            _set_slot(self, self.slot_order[-1], [])
            self.slot_order = self.slot_order[:-1]
            self.has_newer = True
        free = _free_slot(self)
        _set_slot(self, free, _views(page))
        self.slot_order = [free, *self.slot_order]
        self.has_more = page.has_more
        _place(self)

    @rx.event
    async def load_newer(self) -> None:
        """The page below the window (scrolled to its bottom, when it does not end at the
        newest message)."""
        shown = loaded(self)
        if not shown or not self.has_newer:
            return
        last = shown[-1].id
        page = await self._fetch(lambda s, user_id: branches.page_after(
            s, user_id=user_id, thread_id=self.current_thread_id, after_id=last))
        if page is None:
            return
        if len(self.slot_order) == SLOTS:  # unload the oldest page
            _set_slot(self, self.slot_order[0], [])
            self.slot_order = self.slot_order[1:]
            self.has_more = True
        free = _free_slot(self)
        _set_slot(self, free, _views(page))
        self.slot_order = [*self.slot_order, free]
        self.has_newer = page.has_newer
        _place(self)

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
            self.not_found = True
            _clear(self)
        except ChatappError as exc:
            self.notice = exc.user_message
        return None


def _views(page: branches.MessagePage) -> list[MessageView]:
    return [message_view(m, page.siblings.get(m.id)) for m in page.messages]


# --- the slots ---------------------------------------------------------------------------


def _slot(state: ThreadState, k: int) -> list[MessageView]:
    return getattr(state, f"slot{k}")


def _set_slot(state: ThreadState, k: int, views: list[MessageView]) -> None:
    setattr(state, f"slot{k}", views)


def _free_slot(state: ThreadState) -> int:
    return next(k for k in range(SLOTS) if k not in state.slot_order)


def _place(state: ThreadState) -> None:
    positions = list(range(SLOTS))
    for position, k in enumerate(state.slot_order):
        positions[k] = position
    if positions != state.slot_positions:
        state.slot_positions = positions


def _clear(state: ThreadState) -> None:
    for k in range(SLOTS):
        if _slot(state, k):
            _set_slot(state, k, [])
    state.slot_order = []


def loaded(state: ThreadState) -> list[MessageView]:
    """Every message the tab holds, oldest first."""
    return [m for k in state.slot_order for m in _slot(state, k)]


def _newest(state: ThreadState) -> int:
    """The slot of the newest page (made when there is none)."""
    if not state.slot_order:
        state.slot_order = [0]
        _place(state)
    return state.slot_order[-1]


def _show(state: ThreadState, page: branches.MessagePage) -> None:
    _clear(state)
    _set_slot(state, 0, _views(page))
    state.slot_order = [0]
    _place(state)
    state.has_more, state.has_newer = page.has_more, page.has_newer


async def open_thread(state: ThreadState, *, user_id: str, thread_id: str,
                      stats_for_nerds: bool, at: str = "") -> str | None:
    """Show `thread_id` (nothing for a new chat) from its newest page, or around the message
    `at` (a search result); the thread's model id, or None for a new chat or a thread that is
    not the user's."""
    state.current_thread_id, state.not_found = thread_id, False
    _clear(state)
    state.has_more, state.has_newer = False, False
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
            state.not_found = True
            _clear(state)
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
    shown = loaded(state)
    return shown[-1] if shown else None


def show_turn(state: ThreadState, turn: turns.Turn, *, text: str | None,
              model_label: str) -> MessageView:
    """A turn just begun: the user's message (None when a reply is regenerated) and the live
    placeholder of its reply, which the live block draws until it ends."""
    k = _newest(state)
    added = []
    if text is not None:
        added.append(MessageView(id=turn.user_message_id or "", role="user",
                                 content=text.strip()))
    placeholder = MessageView(id=turn.assistant_message_id, role="assistant",
                              status=MessageStatus.PENDING,
                              active=True, model_label=model_label, live=True)
    _set_slot(state, k, [*_slot(state, k), *added, placeholder])
    state.current_thread_id = turn.thread_id
    state.editing_id = state.highlight_id = ""
    return placeholder


def show_branches(state: ThreadState, found: dict[str, branches.Siblings]) -> None:
    """Give messages just added their navigators (a regenerated reply, an edited message)."""
    for k in state.slot_order:
        views = _slot(state, k)
        if any(m.id in found for m in views):
            _set_slot(state, k, [
                dataclasses.replace(m, branch=f"{found[m.id].index} / {found[m.id].count}",
                                    previous_branch_id=found[m.id].previous_id,
                                    next_branch_id=found[m.id].next_id)
                if m.id in found else m for m in views])


def show_final(state: ThreadState, view: MessageView) -> None:
    """Replace a reply's placeholder with how it is stored now."""
    for k in reversed(state.slot_order):
        views = _slot(state, k)
        for i, m in enumerate(views):
            if m.id == view.id:
                view.model_label = view.model_label or m.model_label
                if not view.branch:  # the navigator it was given when it began
                    view.branch, view.previous_branch_id, view.next_branch_id = (
                        m.branch, m.previous_branch_id, m.next_branch_id)
                _set_slot(state, k, [*views[:i], view, *views[i + 1:]])
                return


def cut_from(state: ThreadState, message_id: str) -> None:
    """Take a message and everything below it off the screen: a reply being regenerated or a
    message being edited starts a new branch there."""
    for position, k in enumerate(state.slot_order):
        views = _slot(state, k)
        for i, m in enumerate(views):
            if m.id == message_id:
                _set_slot(state, k, views[:i])
                for later in state.slot_order[position + 1:]:
                    _set_slot(state, later, [])
                state.slot_order = state.slot_order[:position + 1]
                state.has_newer = False
                _place(state)
                return
