"""The open thread: its visible messages, the model picker and the composer's actions."""

from __future__ import annotations

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError, NotFoundError
from chatapp.providers.catalog import PROVIDERS, get_model
from chatapp.services.billing import budgets, ledger
from chatapp.services.catalog import local_model, preferences
from chatapp.services.chat import leases, threads, turns
from chatapp.state.live import LiveState
from chatapp.state.sidebar import SidebarState
from chatapp.state.user import client_ip, current_user_id, reader_id
from chatapp.state.views import MessageView, ModelChoice, message_view

PAGE_SIZE = 60
BUSY_NOTICE = "Wait for the current reply to finish, or stop it."
COMPOSER_ID = "composer"


def thread_id_from_path(path: str) -> str:
    """The id in `/chat/<id>` (empty on `/`)."""
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "chat" else ""


class ChatState(rx.State):
    current_thread_id: str = ""
    not_found: bool = False
    loaded: bool = False
    messages: list[MessageView] = []
    has_more: bool = False
    model_id: str = ""
    model_choices: list[ModelChoice] = []
    local_model_online: bool = True
    stats_for_nerds: bool = False
    meter: str = ""  # "62% left · full in 5 h" for models paid from the allowance
    notice: str = ""
    # Ways out of a refused message: sign in (anonymous), or use a key of one's own.
    notice_sign_in: bool = False
    notice_use_key: bool = False
    _page_size: int = PAGE_SIZE

    @rx.var
    def busy(self) -> bool:
        """A reply in this thread is still being written."""
        return any(m.status in ("pending", "streaming") for m in self.messages[-2:])

    @rx.var
    def selected_model_label(self) -> str:
        for choice in self.model_choices:
            if choice.id == self.model_id:
                return choice.label
        return self.model_id

    @rx.event
    async def load_page(self):
        """on_load of `/` and `/chat/[thread_id]`."""
        settings = get_settings()
        self.notice = ""
        self.local_model_online = await local_model.is_online(settings)
        try:
            user_id = await reader_id(self)  # a first visit creates nothing
        except ChatappError as exc:
            self.notice = exc.user_message
            return None
        prefs, picker = await db.run(lambda s: (
            preferences.get(s, user_id=user_id),
            preferences.picker_for_user(s, settings, user_id=user_id),
        ))
        self.model_choices = [
            ModelChoice(m.id, m.label, m.provider_label, m.available, m.reason) for m in picker
        ]
        self.stats_for_nerds = prefs.stats_for_nerds
        self.notice_sign_in = self.notice_use_key = False
        if self.model_id not in self._available_ids():
            self.model_id = preferences.default_for_new_chat(settings, prefs, picker)
        # Replies a crash left "still writing" end here, so the page never shows them stuck.
        await leases.end_orphans(settings, user_id=user_id)
        thread_id = thread_id_from_path(self.router.url.path)
        self.current_thread_id, self.not_found, self._page_size = thread_id, False, PAGE_SIZE
        self.messages, self.has_more = [], False
        sidebar = await self.get_state(SidebarState)
        await sidebar._refresh(user_id)
        if thread_id:
            await self._load_messages(user_id)
        await self._refresh_meter(user_id)
        self.loaded = True
        live = await self.get_state(LiveState)
        last = self.messages[-1] if self.messages else None
        writing = last is not None and last.status in ("pending", "streaming")
        if live.active and live.thread_id == thread_id:
            if writing and last.id == live.message_id:
                last.live = True
                return None
            live._reset()  # the stream ended while this tab was away, or the server restarted
        if writing:
            # Streaming in another tab or worker: follow its checkpoints in the live block.
            last.live = True
            live._watch(message_id=last.id, thread_id=thread_id, text=last.content)
            return LiveState.follow_reply
        return None

    async def _load_messages(self, user_id: str) -> None:
        try:
            page = await db.run(
                lambda s: threads.visible_page(
                    s, user_id=user_id, thread_id=self.current_thread_id, limit=self._page_size
                )
            )
            thread = await db.run(
                lambda s: threads.get_thread(s, user_id=user_id, thread_id=self.current_thread_id)
            )
        except NotFoundError:
            self.not_found = True
            return
        self.messages = [message_view(m) for m in page.messages]
        self.has_more = page.has_more
        if thread.model_id in self._available_ids():
            self.model_id = thread.model_id

    @rx.event
    async def load_earlier(self) -> None:
        user_id = await reader_id(self)
        self._page_size += PAGE_SIZE
        await self._load_messages(user_id)

    async def _refresh_meter(self, user_id: str) -> None:
        model = get_model(self.model_id)
        if model is None or (model.input_price == 0 and model.output_price == 0):
            self.meter = ""
            return
        try:
            meter = await ledger.meter_for(get_settings(), user_id=user_id,
                                            client_ip=client_ip(self))
        except Exception:  # the meter is a hint: never break the page for it
            self.meter = ""
            return
        self.meter = meter.label

    def _refuse(self, exc: ChatappError) -> None:
        self.notice = exc.user_message
        anonymous_refusal = isinstance(exc, budgets.BudgetExceededError) and exc.anonymous
        self.notice_sign_in = anonymous_refusal
        model = get_model(self.model_id)
        self.notice_use_key = (isinstance(exc, budgets.BudgetExceededError)
                               and not anonymous_refusal and model is not None
                               and PROVIDERS[model.provider].needs_key)

    def _available_ids(self) -> set[str]:
        return {c.id for c in self.model_choices if c.available}

    @rx.event
    async def set_model(self, model_id: str) -> None:
        if model_id in self._available_ids():
            self.model_id = model_id
            try:
                await self._refresh_meter(await reader_id(self))
            except ChatappError:
                self.meter = ""

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
        if self.busy:
            self.notice = BUSY_NOTICE  # the text stays in the composer
            return None
        try:
            user_id = await current_user_id(self)
            turn = await turns.begin_turn(
                get_settings(), user_id=user_id, thread_id=self.current_thread_id or None,
                text=text, model_id=self.model_id, client_ip=client_ip(self),
            )
        except ChatappError as exc:
            self._refuse(exc)  # the text stays in the composer
            return None
        self.notice = ""
        self.notice_sign_in = self.notice_use_key = False
        return await self._start(user_id, turn, text)

    async def _start(self, user_id: str, turn: turns.Turn, text: str | None):
        if text is not None:
            self.messages.append(MessageView(id=turn.user_message_id or "", role="user",
                                             content=text.strip()))
        self.messages.append(
            MessageView(id=turn.assistant_message_id, role="assistant", status="pending",
                        model_label=self.selected_model_label, live=True)
        )
        self.current_thread_id = turn.thread_id
        live = await self.get_state(LiveState)
        live._begin(message_id=turn.assistant_message_id, thread_id=turn.thread_id,
                    new_thread=turn.new_thread)
        sidebar = await self.get_state(SidebarState)
        await sidebar._refresh(user_id)
        events = [rx.set_value(COMPOSER_ID, ""), LiveState.run_generation,
                  rx.call_script("window.chatappScrollToBottom && window.chatappScrollToBottom()")]
        if turn.new_thread:
            events.insert(0, rx.redirect(f"/chat/{turn.thread_id}", replace=True))
        return events

    @rx.event
    async def retry(self, message_id: str):
        """A new reply to the same message, as a sibling of the failed one."""
        if self.busy:
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
        self.messages = [m for m in self.messages if m.id != message_id]
        return await self._start(user_id, turn, None)

    def _apply_final(self, view: MessageView) -> None:
        """Replace the streaming placeholder with the stored reply (private)."""
        for i, m in enumerate(self.messages):
            if m.id == view.id:
                view.model_label = view.model_label or m.model_label
                self.messages[i] = view
                break
