"""The reply being streamed in this tab: a small state of its own, so each flush is cheap."""

from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.services import billing, generation, streaming, titles
from chatapp.services.generation import ReplySnapshot
from chatapp.state.sidebar import SidebarState
from chatapp.state.user import current_user_id
from chatapp.state.views import message_view

log = logging.getLogger(__name__)

# Past this many characters the unfinished tail is flushed less often, so a reply that
# never reaches a paragraph break (one long code block) cannot send O(n²) bytes.
TAIL_BYTES_PER_SECOND = 20_000
FOLLOW_POLL_SECONDS = 0.5


class LiveState(rx.State):
    active: bool = False
    message_id: str = ""
    thread_id: str = ""
    # The live text is `head + tail`; only `tail` changes until a paragraph completes.
    head: str = ""
    tail: str = ""
    reasoning: str = ""
    stopping: bool = False
    _pending: str = ""
    _follow: str = ""
    _new_thread: bool = False
    _admission: dict | None = None  # billing.to_plain(Admission)
    _last_tail_flush: float = 0.0

    def _begin(self, *, message_id: str, thread_id: str, new_thread: bool,
               admission: billing.Admission | None = None) -> None:
        self.active, self.stopping = True, False
        self.message_id, self.thread_id = message_id, thread_id
        self.head = self.tail = self.reasoning = ""
        self._pending, self._new_thread = message_id, new_thread
        self._admission = billing.to_plain(admission)

    def _watch(self, *, message_id: str, thread_id: str, text: str) -> None:
        """Show a reply another tab (or worker) is writing, from its saved checkpoints."""
        self._begin(message_id=message_id, thread_id=thread_id, new_thread=False)
        self._pending, self._follow = "", message_id
        self._show(ReplySnapshot(message_id, thread_id, text=text, status="streaming"))

    def _reset(self) -> None:
        self.active, self.stopping = False, False
        self.message_id = self.thread_id = self.head = self.tail = self.reasoning = ""
        self._pending = ""

    def _show(self, snap: ReplySnapshot) -> None:
        split = get_settings().stream_live_split
        cut = streaming.stable_prefix_length(snap.text) if split else 0
        head, tail = snap.text[:cut], snap.text[cut:]
        now = time.monotonic()
        throttled = now - self._last_tail_flush < len(tail) / TAIL_BYTES_PER_SECOND
        if head == self.head and len(tail) > 2000 and throttled:
            return
        self._last_tail_flush = now
        if head != self.head:
            self.head = head
        self.tail = tail
        if snap.reasoning != self.reasoning:
            self.reasoning = snap.reasoning

    @rx.event(background=True)
    async def run_generation(self) -> None:
        """Stream the pending reply of this tab (the id never comes from the browser)."""
        async with self:
            message_id, new_thread = self._pending, self._new_thread
            admission = billing.from_plain(dict(self._admission) if self._admission else None)
            self._admission = None
            self._pending = ""
        if not message_id:
            return
        settings = get_settings()

        async def publish(snap: ReplySnapshot) -> None:
            async with self:
                if self.message_id == snap.message_id and snap.status == "streaming":
                    self._show(snap)

        try:
            final = await generation.generate_reply(message_id, settings=settings,
                                                    publish=publish, admission=admission)
        except Exception:
            log.exception("generation task for %s crashed", message_id)
            async with self:
                self._reset()
            return
        from chatapp.state.chat import ChatState

        stored = await generation.load_message(message_id)
        stored_user = await generation.owner_of(final.thread_id)
        async with self:
            chat = await self.get_state(ChatState)
            if stored is not None:
                chat._apply_final(message_view(stored))
                await chat._refresh_meter(stored_user)
            sidebar = await self.get_state(SidebarState)
            sidebar._mark_generating(final.thread_id, False)
            if self.message_id == message_id:
                self._reset()
        if new_thread and settings.title_generation and final.status == "complete":
            title = await titles.generate_title(final.thread_id, settings=settings)
            if title:
                async with self:
                    sidebar = await self.get_state(SidebarState)
                    sidebar._set_title(final.thread_id, title)

    @rx.event(background=True)
    async def follow_reply(self) -> None:
        """Poll the checkpoints of a reply streaming elsewhere until it ends."""
        async with self:
            message_id, self._follow = self._follow, ""
        if not message_id:
            return
        while True:
            snap = await generation.load_snapshot(message_id)
            if snap is None:
                async with self:
                    if self.message_id == message_id:
                        self._reset()
                return
            if snap.status not in ("pending", "streaming"):
                break
            async with self:
                if self.message_id != message_id or not self.active:
                    return  # the tab moved on
                self._show(snap)
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
        from chatapp.state.chat import ChatState

        stored = await generation.load_message(message_id)
        async with self:
            chat = await self.get_state(ChatState)
            if stored is not None:
                chat._apply_final(message_view(stored))
            sidebar = await self.get_state(SidebarState)
            sidebar._mark_generating(snap.thread_id, False)
            if self.message_id == message_id:
                self._reset()

    @rx.event
    async def stop(self) -> None:
        if not self.active or not self.message_id:
            return
        try:
            user_id = await current_user_id(self)
            await generation.request_stop(user_id, self.message_id)
        except ChatappError as exc:
            log.info("stop refused: %s", exc)
            return
        self.stopping = True
