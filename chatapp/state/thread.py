"""The open thread as the tab shows it: a window of its visible branch (paged both ways, a
bounded number of messages however far one scrolls), branch switching, forks, not-found.

The window is SLOTS pages, each held by a small state of its own (`PageSlot0`…) and drawn by
its own list, in the order `slot_positions` gives (CSS `order`). Loading a page above or below
fills one slot: only that page goes over the wire and only its list renders again, since no
message reads anything else that changes (its flags travel in its own view). Past SLOTS pages
the far end is unloaded.

Other states change it only through this module's functions (`open_thread`, `show_turn`,
`show_final`, `cut_from`, `to_latest`, ...), never through its private members.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

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


class PageSlot0(rx.State):
    """One page of the window (see the module's docstring)."""

    views: list[MessageView] = []


class PageSlot1(rx.State):
    views: list[MessageView] = []


class PageSlot2(rx.State):
    views: list[MessageView] = []


class PageSlot3(rx.State):
    views: list[MessageView] = []


SLOT_STATES: tuple[type[rx.State], ...] = (PageSlot0, PageSlot1, PageSlot2, PageSlot3)
assert len(SLOT_STATES) == SLOTS


class ThreadState(rx.State):
    current_thread_id: str = ""
    not_found: bool = False
    loaded: bool = False
    # Which slots hold pages, oldest page first; `slot_positions[k]` is where slot k is drawn.
    slot_order: list[int] = []
    slot_positions: list[int] = list(range(SLOTS))
    empty: bool = True  # no message on screen
    busy: bool = False  # a reply in this thread is still being written
    has_more: bool = False  # older messages above the window
    has_newer: bool = False  # newer messages below it (opened around an old message)
    forked_from_id: str = ""  # the thread this one was branched off from, and its title
    forked_from_title: str = ""
    notice: str = ""
    stats_for_nerds: bool = False  # show speed, tokens and cost under replies

    @rx.event
    async def load_earlier(self) -> None:
        """The page above the window (scrolled to its top)."""
        w = await window(self)
        shown = w.messages()
        if not shown:
            return
        page = await self._fetch(lambda s, user_id: branches.page_before(
            s, user_id=user_id, thread_id=self.current_thread_id, before_id=shown[0].id))
        if page is None:
            return
        if page.messages:
            w.add(self._views(page), above=True)
        self.has_more = page.has_more
        w.done()

    @rx.event
    async def load_newer(self) -> None:
        """The page below the window (scrolled to its bottom, when it does not end at the
        newest message)."""
        w = await window(self)
        shown = w.messages()
        if not shown or not self.has_newer:
            return
        page = await self._fetch(lambda s, user_id: branches.page_after(
            s, user_id=user_id, thread_id=self.current_thread_id, after_id=shown[-1].id))
        if page is None:
            return
        w.add(self._views(page), above=False)
        self.has_newer = page.has_newer
        w.done()

    @rx.event
    async def switch_branch(self, message_id: str):
        """Show the sibling branch `message_id` (the navigator's ‹ and ›); stored, so a reload
        and the composer follow it."""
        done = await self._act(lambda s, user_id: branches.switch_branch(
            s, user_id=user_id, message_id=message_id))
        if done is None:
            return None
        await _around(self, done[0], message_id, highlight=False)
        return rx.call_script(REVEAL.format(id=json.dumps(message_id)))

    @rx.event
    async def fork(self, message_id: str):
        """"Branch off into a new chat" at `message_id`: opens the new thread."""
        done = await self._act(lambda s, user_id: branches.fork(s, user_id=user_id,
                                                                message_id=message_id))
        return None if done is None else rx.redirect(f"/chat/{done[1].id}")

    @rx.event
    async def start_edit(self, message_id: str) -> None:
        """Show the edit box on one of the messages on screen (nothing for any other id)."""
        w = await window(self)
        w.flag(editing=lambda m: m.id == message_id and m.role == "user")
        w.done()

    @rx.event
    async def cancel_edit(self) -> None:
        w = await window(self)
        w.flag(editing=lambda m: False)
        w.done()

    @rx.event
    def dismiss_notice(self) -> None:
        self.notice = ""

    async def _act(self, change) -> tuple[str, Any] | None:  # type: ignore[no-untyped-def]
        """The user and `change(session, user_id)`'s result; a refusal goes to the notice."""
        self.notice = ""
        try:
            user_id = await reader_id(self)
            return user_id, await db.run(lambda s: change(s, user_id))
        except ChatappError as exc:
            self.notice = exc.user_message
            return None

    def _views(self, page: branches.MessagePage) -> list[MessageView]:
        return [message_view(m, page.siblings.get(m.id), stats=self.stats_for_nerds)
                for m in page.messages]

    async def _fetch(self, read) -> branches.MessagePage | None:  # type: ignore[no-untyped-def]
        try:
            user_id = await reader_id(self)
            return await db.run(lambda s: read(s, user_id))
        except NotFoundError:
            self.not_found = True
            (await window(self)).clear()
        except ChatappError as exc:
            self.notice = exc.user_message
        return None


class Window:
    """The slots of one tab, gathered once per event: edits them, then `done()` brings the
    thread's order, positions and flags up to date. Only slots whose pages change are
    assigned (each assignment goes over the wire)."""

    def __init__(self, thread: ThreadState, slots: list[rx.State]) -> None:
        self.thread, self.slots = thread, slots

    def pages(self) -> list[list[MessageView]]:
        return [self.slots[k].views for k in self.thread.slot_order]  # type: ignore[attr-defined]

    def messages(self) -> list[MessageView]:
        return [m for page in self.pages() for m in page]

    def set(self, k: int, views: list[MessageView]) -> None:
        self.slots[k].views = views  # type: ignore[attr-defined]

    def clear(self) -> None:
        for k in self.thread.slot_order:
            self.set(k, [])
        self.thread.slot_order = []
        self.done()

    def show(self, views: list[MessageView]) -> None:
        self.clear()
        self.set(0, views)
        self.thread.slot_order = [0]
        self.done()

    def add(self, views: list[MessageView], *, above: bool) -> None:
        """A page above or below the window; the far end goes when every slot is taken."""
        order = self.thread.slot_order
        if len(order) == SLOTS:
            far = order[-1] if above else order[0]
            self.set(far, [])
            order = order[:-1] if above else order[1:]
            if above:
                self.thread.has_newer = True
            else:
                self.thread.has_more = True
        free = next(k for k in range(SLOTS) if k not in order)
        self.set(free, views)
        self.thread.slot_order = [free, *order] if above else [*order, free]

    def newest(self) -> int:
        """The slot of the newest page (made when there is none)."""
        if not self.thread.slot_order:
            self.thread.slot_order = [0]
        return self.thread.slot_order[-1]

    def replace(self, change) -> bool:  # type: ignore[no-untyped-def]
        """Apply `change(view) -> view | None` to every message; a slot is assigned only when
        one of its messages changed. Whether any did."""
        changed = False
        for k in self.thread.slot_order:
            views = self.slots[k].views  # type: ignore[attr-defined]
            new = [change(m) or m for m in views]
            if any(a is not b for a, b in zip(new, views, strict=True)):
                self.set(k, new)
                changed = True
        return changed

    def flag(self, **rules) -> None:  # type: ignore[no-untyped-def]
        """Set boolean flags of the views by rule (editing, highlight)."""
        def change(m: MessageView) -> MessageView | None:
            wanted = {name: bool(rule(m)) for name, rule in rules.items()}
            if all(getattr(m, name) == value for name, value in wanted.items()):
                return None
            return dataclasses.replace(m, **wanted)

        self.replace(change)

    def done(self) -> None:
        t = self.thread
        positions = list(range(SLOTS))
        for position, k in enumerate(t.slot_order):
            positions[k] = position
        if positions != t.slot_positions:
            t.slot_positions = positions
        shown = self.messages()
        if t.empty != (not shown):
            t.empty = not shown
        busy = any(m.active for m in shown[-2:])
        if t.busy != busy:
            t.busy = busy


async def window(state: ThreadState) -> Window:
    return Window(state, [await state.get_state(cls) for cls in SLOT_STATES])


async def loaded(state: ThreadState) -> list[MessageView]:
    """Every message the tab holds, oldest first."""
    return (await window(state)).messages()


async def open_thread(state: ThreadState, *, user_id: str, thread_id: str,
                      stats_for_nerds: bool, at: str = "") -> str | None:
    """Show `thread_id` (nothing for a new chat) from its newest page, or around the message
    `at` (a search result); the thread's model id, or None for a new chat or a thread that is
    not the user's."""
    state.current_thread_id, state.not_found = thread_id, False
    w = await window(state)
    w.clear()
    state.has_more = state.has_newer = False
    state.notice = state.forked_from_id = state.forked_from_title = ""
    state.stats_for_nerds = stats_for_nerds
    model_id = None
    if thread_id:
        try:
            if at:
                model_id = await _around(state, user_id, at, thread_id=thread_id)
            if model_id is None:
                page = await db.run(lambda s: branches.visible_page(
                    s, user_id=user_id, thread_id=thread_id, limit=branches.FIRST_PAGE))
                _show(state, w, page)
                model_id = page.model_id
            origin = await db.run(lambda s: threads.fork_origin(s, user_id=user_id,
                                                                thread_id=thread_id))
            if origin:
                state.forked_from_id, state.forked_from_title = origin
        except NotFoundError:
            state.not_found = True
            w.clear()
            model_id = None
    state.loaded = True
    return model_id


def _show(state: ThreadState, w: Window, page: branches.MessagePage,
          highlight: str = "") -> None:
    views = state._views(page)
    if highlight:
        views = [dataclasses.replace(m, highlight=True) if m.id == highlight else m
                 for m in views]
    w.show(views)
    state.has_more, state.has_newer = page.has_more, page.has_newer


async def _around(state: ThreadState, user_id: str, message_id: str,
                  thread_id: str | None = None, highlight: bool = True) -> str | None:
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
    _show(state, await window(state), page, highlight=message_id if highlight else "")
    return page.model_id


async def highlighted(state: ThreadState) -> str:
    """The message a search result opened ("" when none)."""
    return next((m.id for m in await loaded(state) if m.highlight), "")


async def to_latest(state: ThreadState, user_id: str) -> None:
    """Show the newest page again (before a send from a window that ends higher up)."""
    if state.has_newer:
        page = await db.run(lambda s: branches.visible_page(
            s, user_id=user_id, thread_id=state.current_thread_id))
        _show(state, await window(state), page)


async def last_message(state: ThreadState) -> MessageView | None:
    shown = await loaded(state)
    return shown[-1] if shown else None


async def show_turn(state: ThreadState, turn: turns.Turn, *, text: str | None,
                    model_label: str) -> MessageView:
    """A turn just begun: the user's message (None when a reply is regenerated) and the live
    placeholder of its reply, which the live block draws until it ends."""
    w = await window(state)
    w.flag(editing=lambda m: False, highlight=lambda m: False)
    k = w.newest()
    added = []
    if text is not None:
        added.append(MessageView(id=turn.user_message_id or "", role="user",
                                 content=text.strip()))
    placeholder = MessageView(id=turn.assistant_message_id, role="assistant",
                              status=MessageStatus.PENDING,
                              active=True, model_label=model_label, live=True)
    w.set(k, [*w.slots[k].views, *added, placeholder])  # type: ignore[attr-defined]
    state.current_thread_id = turn.thread_id
    w.done()
    return placeholder


async def show_branches(state: ThreadState, found: dict[str, branches.Siblings]) -> None:
    """Give messages just added their navigators (a regenerated reply, an edited message)."""
    w = await window(state)

    def change(m: MessageView) -> MessageView | None:
        sib = found.get(m.id)
        if sib is None:
            return None
        return dataclasses.replace(m, branch=f"{sib.index} / {sib.count}",
                                   previous_branch_id=sib.previous_id, next_branch_id=sib.next_id)

    w.replace(change)


async def show_final(state: ThreadState, view: MessageView) -> None:
    """Replace a reply's placeholder with how it is stored now."""
    w = await window(state)

    def change(m: MessageView) -> MessageView | None:
        if m.id != view.id:
            return None
        view.model_label = view.model_label or m.model_label
        if not view.branch:  # the navigator it was given when it began
            view.branch, view.previous_branch_id, view.next_branch_id = (
                m.branch, m.previous_branch_id, m.next_branch_id)
        if not state.stats_for_nerds:
            view.stats = ""
        return view

    w.replace(change)
    w.done()


async def mark_live(state: ThreadState, message_id: str) -> None:
    """The live block draws this reply (it is written elsewhere, or by this tab)."""
    w = await window(state)
    w.replace(lambda m: dataclasses.replace(m, live=True)
              if m.id == message_id and not m.live else None)


async def cut_from(state: ThreadState, message_id: str) -> None:
    """Take a message and everything below it off the screen: a reply being regenerated or a
    message being edited starts a new branch there."""
    w = await window(state)
    for position, k in enumerate(state.slot_order):
        views = w.slots[k].views  # type: ignore[attr-defined]
        for i, m in enumerate(views):
            if m.id == message_id:
                w.set(k, views[:i])
                for later in state.slot_order[position + 1:]:
                    w.set(later, [])
                state.slot_order = state.slot_order[:position + 1]
                state.has_newer = False
                w.done()
                return
