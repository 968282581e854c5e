"""The sidebar: the user's threads (pinned first, grouped by recency, paged as it scrolls),
the Archived view, and what can be done to a thread from its menu."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex_components_sonner.toast import ToastAction

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.services.chat import generation, threads
from chatapp.services.identity import accounts
from chatapp.state.user import VISITOR, local_zone, reader_id
from chatapp.state.views import ThreadItem, thread_items

UNDO_SECONDS = 8  # how long the Undo of a deletion is offered (the server keeps it longer)


class SidebarState(rx.State):
    threads: list[ThreadItem] = []
    has_more_threads: bool = False
    archived_view: bool = False  # the Archived list instead of the chats
    renaming_id: str = ""  # the thread whose title is being edited in place
    # The thread on screen, marked in the list: kept here (not read from ThreadState) so the
    # list is not drawn again whenever the conversation changes.
    open_id: str = ""
    signed_in: bool = False
    user_label: str = ""
    avatar_url: str = ""
    _cursor: str = ""
    _deleted_id: str = ""  # the thread the Undo toast brings back

    @rx.event
    async def load_more_threads(self) -> None:
        """The next page of the list (the list's end came into view)."""
        if not self._cursor:
            return
        user_id = await reader_id(self)
        page = await db.run(lambda s: threads.thread_page(
            s, user_id=user_id, archived=self.archived_view, cursor=self._cursor))
        last = self.threads[-1] if self.threads else None
        more = thread_items(page.threads, zone=local_zone(self), after=last)
        self.threads = [*self.threads, *more]
        self._cursor, self.has_more_threads = page.cursor, bool(page.cursor)

    @rx.event
    async def show_archived(self, archived: bool) -> None:
        self.archived_view = bool(archived)
        await _reload(self, await reader_id(self))

    @rx.event
    def start_rename(self, thread_id: str) -> None:
        self.renaming_id = thread_id  # only picks which row shows the title field

    @rx.event
    def cancel_rename(self) -> None:
        self.renaming_id = ""

    @rx.event
    async def rename(self, form_data: dict):
        thread_id, title = str(form_data.get("thread_id", "")), str(form_data.get("title", ""))
        self.renaming_id = ""
        return await self._act(lambda s, user_id: threads.rename_thread(
            s, user_id=user_id, thread_id=thread_id, title=title))

    @rx.event
    async def set_pinned(self, thread_id: str, pinned: bool):
        return await self._act(lambda s, user_id: threads.set_pinned(
            s, user_id=user_id, thread_id=thread_id, pinned=bool(pinned)))

    @rx.event
    async def set_archived(self, thread_id: str, archived: bool):
        failed = await self._act(lambda s, user_id: threads.set_archived(
            s, user_id=user_id, thread_id=thread_id, archived=bool(archived)))
        if failed:
            return failed
        return rx.toast.success("Chat archived" if archived else "Chat restored",
                                duration=3000)

    @rx.event
    async def delete(self, thread_id: str):
        """Delete a thread (an Undo toast for a few seconds); deleting the open thread opens a
        new chat."""
        try:
            user_id = await reader_id(self)
            await generation.stop_thread(user_id, thread_id, settings=get_settings())
        except ChatappError as exc:
            return rx.toast.error(exc.user_message)
        failed = await self._act(lambda s, uid: threads.delete_thread(
            s, user_id=uid, thread_id=thread_id))
        if failed:
            return failed
        self._deleted_id = thread_id
        events: list[Any] = [rx.toast.info(
            "Chat deleted", duration=UNDO_SECONDS * 1000, id="deleted",
            action=ToastAction(label="Undo", on_click=SidebarState.undo_delete))]
        if self.open_id == thread_id:
            events.insert(0, rx.redirect("/"))
        return events

    @rx.event
    async def undo_delete(self):
        thread_id, self._deleted_id = self._deleted_id, ""
        if not thread_id:
            return None
        return await self._act(lambda s, user_id: threads.undo_delete(
            s, user_id=user_id, thread_id=thread_id))

    async def _act(self, change: Callable[[Any, str], object]) -> Any:
        """Apply `change(session, user_id)` and reload the list; a refusal as a toast."""
        try:
            user_id = await reader_id(self)
            await db.run(lambda s: change(s, user_id))
        except ChatappError as exc:
            return rx.toast.error(exc.user_message)
        await _reload(self, user_id)
        return None


async def _reload(state: SidebarState, user_id: str) -> None:
    page = await db.run(lambda s: threads.thread_page(s, user_id=user_id,
                                                      archived=state.archived_view))
    items = thread_items(page.threads, zone=local_zone(state))
    if items != state.threads:  # the same list is not sent (and drawn) again
        state.threads = items
    state._cursor, state.has_more_threads = page.cursor, bool(page.cursor)


# --- what other states may do to the sidebar ---------------------------------------------


async def refresh(state: SidebarState, user_id: str, open_id: str) -> None:
    """Reload the list and the account footer; `open_id` is the thread on screen."""
    if state.open_id != open_id:
        state.open_id = open_id
    await _reload(state, user_id)
    if user_id == VISITOR:  # a first visit: nothing stored yet
        state.signed_in, state.user_label, state.avatar_url = False, "Account", ""
        return
    profile = await db.run(lambda s: accounts.profile(s, user_id=user_id))
    state.signed_in = not profile.is_anonymous
    state.user_label = profile.name or profile.email or "Account"
    state.avatar_url = profile.avatar_url


def mark_generating(state: SidebarState, thread_id: str, generating: bool) -> None:
    _change(state, thread_id, generating=generating)


def set_title(state: SidebarState, thread_id: str, title: str) -> None:
    _change(state, thread_id, title=title)


def _change(state: SidebarState, thread_id: str, **changes: object) -> None:
    state.threads = [dataclasses.replace(t, **changes) if t.id == thread_id else t
                     for t in state.threads]
