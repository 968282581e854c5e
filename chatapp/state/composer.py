"""The composer: the model picker, notices, and sending or regenerating; it opens chat pages.

States import one way: composer → live → thread, meter, sidebar.
"""

from __future__ import annotations

import json

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.services.billing import budgets
from chatapp.services.catalog import local_model, preferences
from chatapp.services.chat import branches, drafts, leases, runs, turns
from chatapp.state import live, meter, sidebar, thread
from chatapp.state.live import LiveState
from chatapp.state.meter import MeterState
from chatapp.state.sidebar import SidebarState
from chatapp.state.thread import ThreadState, thread_id_from_path
from chatapp.state.user import client_ip, current_user_id, reader_id
from chatapp.state.views import ModelChoice

BUSY_NOTICE = "Wait for the current reply to finish, or stop it."
COMPOSER_ID = "composer"


class ModelMenuState(rx.State):
    """The "Regenerate with" dialog: the models a reply can be regenerated with, and the
    reply it is open for (apart from the composer, so nothing else redraws with it)."""

    choices: list[ModelChoice] = []
    target: str = ""  # the reply the dialog is open for ("" when closed)

    @rx.event
    def choose(self, message_id: str) -> None:
        self.target = message_id  # only opens the dialog: retry_with checks the id

    @rx.event
    def closed(self, shown: bool) -> None:
        if not shown:
            self.target = ""


class ComposerState(rx.State):
    model_id: str = ""
    model_choices: list[ModelChoice] = []
    local_model_online: bool = True
    notice: str = ""
    # Ways out of a refused message: sign in (anonymous), or use a key of one's own.
    notice_sign_in: bool = False
    notice_use_key: bool = False
    _sent: str = ""  # the last text sent from this tab: a late draft save of it is dropped

    @rx.var
    def selected_model_label(self) -> str:
        for choice in self.model_choices:
            if choice.id == self.model_id:
                return choice.label
        return self.model_id

    def _available_ids(self) -> set[str]:
        return {c.id for c in self.model_choices if c.available}

    @rx.event
    async def load_page(self):
        """on_load of `/` and `/chat/[thread_id]`."""
        settings = get_settings()
        # "Wait for the reply" stays while that reply is on screen (a send can land between a
        # new chat's redirect and this load); every other notice goes with the old page.
        busy_notice = self.notice == BUSY_NOTICE
        self.notice = ""
        self.local_model_online = await local_model.is_online(settings)
        try:
            user_id = await reader_id(self)  # a first visit creates nothing
        except ChatappError as exc:
            self.notice = exc.user_message
            return None
        prefs, picker = await db.run(
            lambda s: preferences.for_composer(s, settings, user_id=user_id))
        self.model_choices = [
            ModelChoice(m.id, m.label, m.provider_label, m.available, m.reason) for m in picker
        ]
        menu = await self.get_state(ModelMenuState)
        available = [c for c in self.model_choices if c.available]
        if menu.choices != available:
            menu.choices = available
        self.notice_sign_in = self.notice_use_key = False
        if self.model_id not in self._available_ids():
            self.model_id = preferences.default_for_new_chat(settings, prefs, picker)
        # Replies a crash left "still writing" end here, so the page never shows them stuck.
        await leases.end_orphans(settings, user_id=user_id)
        thread_id = thread_id_from_path(self.router.url.path)
        at = str(self.router.url.query_parameters.get("m", "") or "")
        on_screen = await self.get_state(ThreadState)
        live_block = await self.get_state(LiveState)
        if (thread_id and not at and on_screen.loaded and not on_screen.not_found
                and on_screen.current_thread_id == thread_id and live_block.active
                and live_block.thread_id == thread_id
                and runs.running_here(live_block.message_id)):
            # This tab writes the reply of the thread it shows, here (a new chat's redirect, or
            # a reload while it streams): what it holds is current and the live block keeps it
            # so; reading it again would only race with what the user does meanwhile.
            if busy_notice:
                self.notice = BUSY_NOTICE
            await sidebar.refresh(await self.get_state(SidebarState), user_id, thread_id)
            await meter.refresh(await self.get_state(MeterState), user_id=user_id,
                                model_id=self.model_id)
            return None
        used = await thread.open_thread(on_screen, user_id=user_id, thread_id=thread_id,
                                        stats_for_nerds=prefs.stats_for_nerds, at=at)
        if used in self._available_ids():
            self.model_id = used  # continue with the thread's model
        if busy_notice and on_screen.busy:
            self.notice = BUSY_NOTICE
        await sidebar.refresh(await self.get_state(SidebarState), user_id,
                              "" if on_screen.not_found else thread_id)
        await meter.refresh(await self.get_state(MeterState), user_id=user_id,
                            model_id=self.model_id)
        events = [await _resume_live_block(await self.get_state(LiveState), on_screen,
                                           thread_id)]
        if not on_screen.not_found:
            draft = await db.run(lambda s: drafts.get_draft(s, user_id=user_id, slot=thread_id))
            # The draft typed here before (a reload, another tab or device), or nothing.
            events.append(rx.call_script(
                f"window.chatappRestoreDraft && window.chatappRestoreDraft({json.dumps(draft)})"))
        target = await thread.highlighted(on_screen)
        if target:
            events.append(rx.call_script(thread.REVEAL.format(id=json.dumps(target))))
        return [e for e in events if e is not None]

    @rx.event
    async def set_model(self, model_id: str) -> None:
        if model_id in self._available_ids():
            self.model_id = model_id
            try:
                await meter.refresh(await self.get_state(MeterState),
                                    user_id=await reader_id(self), model_id=model_id)
            except ChatappError:
                (await self.get_state(MeterState)).meter = ""

    @rx.event
    async def save_draft(self, text: str) -> None:
        """What is typed, kept on the server (the composer sends it debounced)."""
        text = str(text)
        if text and text == self._sent:
            return  # the save of a message already sent, arriving late
        try:
            user_id = await current_user_id(self) if text.strip() else await reader_id(self)
            slot = (await self.get_state(ThreadState)).current_thread_id
            await db.run(lambda s: drafts.save_draft(s, user_id=user_id, slot=slot, text=text))
        except ChatappError as exc:
            self.notice = exc.user_message

    @rx.event
    def dismiss_notice(self) -> None:
        self.notice = ""
        self.notice_sign_in = self.notice_use_key = False

    @rx.event
    async def send_message(self, form_data: dict):
        """Store the user's message, then stream the reply in the background."""
        text = str(form_data.get("message", ""))
        if not text.strip():
            return None
        on_screen = await self.get_state(ThreadState)
        if on_screen.busy:
            self.notice = BUSY_NOTICE  # the text stays in the composer
            return None
        try:
            user_id = await current_user_id(self)
            await thread.to_latest(on_screen, user_id)  # a window higher up: back to the end
            turn = await turns.begin_turn(
                get_settings(), user_id=user_id, thread_id=on_screen.current_thread_id or None,
                text=text, model_id=self.model_id, client_ip=client_ip(self),
            )
        except ChatappError as exc:
            self._refuse(exc)  # the text stays in the composer
            return None
        self.notice, self.notice_sign_in, self.notice_use_key = "", False, False
        self._sent = text
        return await self._start(user_id, turn, text)

    @rx.event
    async def edit_message(self, form_data: dict):
        """A new version of a sent message, as a new branch from there; a new reply streams."""
        message_id = str(form_data.get("message_id", ""))
        text = str(form_data.get("message", ""))
        on_screen = await self.get_state(ThreadState)
        if not text.strip():
            return None
        if on_screen.busy:
            self.notice = BUSY_NOTICE
            return None
        try:
            user_id = await current_user_id(self)
            turn = await turns.begin_edit(
                get_settings(), user_id=user_id, message_id=message_id, text=text,
                model_id=self.model_id, client_ip=client_ip(self))
        except ChatappError as exc:
            self._refuse(exc)
            return None
        await thread.cut_from(on_screen, message_id)
        return await self._start(user_id, turn, text, branched=turn.user_message_id)

    @rx.event
    async def retry_with(self, message_id: str, model_id: str):
        """Regenerate a reply with another model (the small menu next to Regenerate)."""
        (await self.get_state(ModelMenuState)).target = ""
        if model_id not in self._available_ids():
            return None
        self.model_id = model_id
        return await self.retry(message_id)

    @rx.event
    async def retry(self, message_id: str):
        """A new reply to the same message, as a sibling of the failed one."""
        on_screen = await self.get_state(ThreadState)
        if on_screen.busy:
            return None
        try:
            user_id = await current_user_id(self)
            turn = await turns.begin_retry(
                get_settings(), user_id=user_id, message_id=message_id, model_id=self.model_id,
                client_ip=client_ip(self),
            )
        except ChatappError as exc:
            self._refuse(exc)
            return None
        await thread.cut_from(on_screen, message_id)
        return await self._start(user_id, turn, None, branched=turn.assistant_message_id)

    async def _start(self, user_id: str, turn: turns.Turn, text: str | None,
                     branched: str | None = None):
        # The provider request goes out now; what follows (the page, the sidebar, the
        # redirect of a new chat) happens while it travels.
        runs.start(turn.assistant_message_id, settings=get_settings())
        on_screen = await self.get_state(ThreadState)
        await thread.show_turn(on_screen, turn, text=text,
                               model_label=self.selected_model_label)
        if branched:  # a new sibling: its navigator shows at once
            await thread.show_branches(on_screen, await db.run(lambda s: branches.siblings_of(
                s, user_id=user_id, message_ids=[branched])))
        live.begin(await self.get_state(LiveState), message_id=turn.assistant_message_id,
                   thread_id=turn.thread_id)
        await sidebar.refresh(await self.get_state(SidebarState), user_id, turn.thread_id)
        sent_from = ["/chat/" + turn.thread_id] + (["/"] if turn.new_thread else [])
        events = [rx.set_value(COMPOSER_ID, ""),
                  rx.call_script("window.chatappDraftSent && window.chatappDraftSent("
                                 f"{json.dumps(sent_from)})"),
                  LiveState.run_generation,
                  rx.call_script("window.chatappScrollToBottom && window.chatappScrollToBottom()")]
        if turn.new_thread:
            # After the composer is cleared: events after a redirect wait for the new page's
            # load, and by then the user may have typed the next message.
            events.insert(2, rx.redirect(f"/chat/{turn.thread_id}", replace=True))
        return events

    def _refuse(self, exc: ChatappError) -> None:
        self.notice = exc.user_message
        way_out = budgets.ways_out(exc, model_id=self.model_id)
        self.notice_sign_in, self.notice_use_key = way_out.sign_in, way_out.use_key


async def _resume_live_block(state: LiveState, on_screen: ThreadState, thread_id: str):
    """After a page load: keep drawing this tab's own reply, or follow one another tab or
    worker is writing, or clear a live block whose stream ended while the tab was away."""
    last = await thread.last_message(on_screen)
    writing = last is not None and last.active
    if state.active and state.thread_id == thread_id:
        if writing and live.writes(state, last.id) and runs.running_here(last.id):
            await thread.mark_live(on_screen, last.id)
            return None  # its run here ends the live block
        # Its writer is another process (the tab came back on another worker, whose own end
        # of the reply lands here through the shared state, unless that worker died): follow.
        live.reset(state)  # the stream ended while this tab was away, or the server restarted
    if writing:
        await thread.mark_live(on_screen, last.id)
        live.watch(state, message_id=last.id, thread_id=thread_id)
        return LiveState.follow_reply
    return None
