"""The reply being streamed in this tab: which one, and whether it is being stopped.

Its text does not travel in this state: the browser reads it from the reply's feed
(chatapp/feeds.py, served by chatapp/api/live.py), so a batch costs the websocket nothing.
This state only says which reply to draw, and swaps in the stored message when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import reflex as rx

from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.models import ACTIVE_STATUSES
from chatapp.services.chat import generation, leases, runs, titles
from chatapp.services.chat.generation import ReplySnapshot
from chatapp.state import meter, presence, sidebar, thread
from chatapp.state.meter import MeterState
from chatapp.state.sidebar import SidebarState
from chatapp.state.thread import ThreadState
from chatapp.state.user import current_user_id
from chatapp.state.views import MessageView, message_view, snapshot_view

log = logging.getLogger(__name__)

FOLLOW_POLL_SECONDS = 0.5
FOLLOW_AWAY_POLLS = 4  # a reload's reconnect takes less; a closed tab stays away


class LiveState(rx.State):
    message_id: str = ""  # the reply drawn live ("" when none)
    thread_id: str = ""
    stopping: bool = False
    _pending: str = ""
    _follow: str = ""

    @rx.var
    def active(self) -> bool:
        """A reply is drawn live in this tab."""
        return bool(self.message_id)

    @rx.event(background=True)
    async def run_generation(self) -> None:
        """Wait for the pending reply of this tab (started when it was sent, chatapp/services/
        chat/runs.py; the id never comes from the browser), then show it as stored."""
        async with self:
            message_id, self._pending = self._pending, ""
        if not message_id:
            return
        settings = get_settings()
        try:
            final = await runs.outcome(message_id, settings=settings)
        except Exception:
            # Only the claim can fail this way (the database away for a whole lease): the
            # reply stays pending and is ended as interrupted when its lease runs out.
            log.exception("generation task for %s crashed", message_id)
            async with self:
                if self.message_id == message_id:
                    reset(self)
            return
        await self._land(final)
        title = await titles.after_reply(final, settings=settings)
        if title:
            async with self:
                sidebar.set_title(await self.get_state(SidebarState), final.thread_id, title)

    async def _land(self, final: ReplySnapshot) -> None:
        """Swap the live block for the stored reply (kept on screen as it was streamed when
        the database cannot say how it ended), and refresh what depends on it."""
        stored = final.stored
        if stored is None:
            with contextlib.suppress(Exception):
                found = await generation.load_snapshot(final.message_id)
                stored = found.stored if found is not None else None
        view = message_view(stored) if stored is not None else snapshot_view(final)
        async with self:
            await self._apply_final(final, view)

    async def _apply_final(self, final: ReplySnapshot, view: MessageView) -> None:
        await thread.show_final(await self.get_state(ThreadState), view)
        if final.user_id:
            await meter.update(await self.get_state(MeterState), user_id=final.user_id)
        sidebar.mark_generating(await self.get_state(SidebarState), final.thread_id, False)
        if self.message_id == final.message_id:
            reset(self)

    @rx.event(background=True)
    async def follow_reply(self) -> None:
        """Watch a reply streaming elsewhere (another tab or worker) until it ends (its text
        comes from its feed meanwhile), its writer turns out to be gone (it is then ended as
        interrupted), or this tab goes away."""
        async with self:
            message_id, self._follow = self._follow, ""
            tab = self.router.session.client_token
        if not message_id:
            return
        settings = get_settings()
        away = 0
        snap: ReplySnapshot | None = None
        while True:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            if not await presence.tab_connected(tab):
                away += 1
                if away >= FOLLOW_AWAY_POLLS:
                    return  # closed: a reload starts a new follower from load_page
                continue
            away = 0
            try:
                snap = await generation.load_snapshot(message_id)
                if snap is not None and snap.orphaned:
                    await leases.end_orphans(settings, message_id=message_id)
                    snap = await generation.load_snapshot(message_id)
            except Exception as exc:  # the database is away: keep the text, ask again
                log.info("following %s: %s", message_id, type(exc).__name__)
                continue
            if snap is None:
                async with self:
                    if self.message_id == message_id:
                        reset(self)
                return
            if snap.status not in ACTIVE_STATUSES:
                break
            async with self:
                if self.message_id != message_id:
                    return  # the tab moved on
        await self._land(snap)

    @rx.event
    async def stop(self) -> None:
        if not self.message_id:
            return
        message_id = self.message_id
        try:
            user_id = await current_user_id(self)
            ended = await generation.request_stop(user_id, message_id, settings=get_settings())
        except ChatappError as exc:
            log.info("stop refused: %s", exc)
            return
        self.stopping = True
        if ended:  # nobody was writing it: it was ended here and now, show how it is stored
            snap = await generation.load_snapshot(message_id)
            if snap is not None and snap.stored is not None:
                await self._apply_final(snap, message_view(snap.stored))


# --- what other states may do to the live block ------------------------------------------


def begin(state: LiveState, *, message_id: str, thread_id: str) -> None:
    """Draw the reply this tab is about to generate (run_generation picks it up)."""
    state.stopping = False
    state.message_id, state.thread_id = message_id, thread_id
    state._pending = message_id


def watch(state: LiveState, *, message_id: str, thread_id: str) -> None:
    """Show a reply another tab (or worker) is writing (follow_reply waits for its end)."""
    begin(state, message_id=message_id, thread_id=thread_id)
    state._pending, state._follow = "", message_id


def reset(state: LiveState) -> None:
    """No live block any more."""
    state.stopping = False
    state.message_id = state.thread_id = ""
    state._pending = ""


def writes(state: LiveState, message_id: str) -> bool:
    """Whether this tab's live block is drawing `message_id`."""
    return bool(message_id) and state.message_id == message_id
