"""The open thread as the tab shows it: its visible messages, paging, not-found.

Other states change it only through this module's functions (`open_thread`, `show_turn`,
`show_final`, `drop`), never through its private members.
"""

from __future__ import annotations

import reflex as rx

from chatapp import db
from chatapp.errors import NotFoundError
from chatapp.models import MessageStatus
from chatapp.services.chat import branches, turns
from chatapp.state.user import reader_id
from chatapp.state.views import MessageView, message_view

PAGE_SIZE = 60


def thread_id_from_path(path: str) -> str:
    """The id in `/chat/<id>` (empty on `/`)."""
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "chat" else ""


class ThreadState(rx.State):
    current_thread_id: str = ""
    not_found: bool = False
    loaded: bool = False
    messages: list[MessageView] = []
    has_more: bool = False
    stats_for_nerds: bool = False  # show speed, tokens and cost under replies
    _page_size: int = PAGE_SIZE

    @rx.var
    def busy(self) -> bool:
        """A reply in this thread is still being written."""
        return any(m.active for m in self.messages[-2:])

    @rx.event
    async def load_earlier(self) -> None:
        user_id = await reader_id(self)
        self._page_size += PAGE_SIZE
        await _load(self, user_id)


async def open_thread(state: ThreadState, *, user_id: str, thread_id: str,
                      stats_for_nerds: bool) -> str | None:
    """Show `thread_id` (nothing for a new chat) from its newest page; the thread's model id,
    or None for a new chat or a thread that is not the user's."""
    state.current_thread_id, state.not_found, state._page_size = thread_id, False, PAGE_SIZE
    state.messages, state.has_more = [], False
    state.stats_for_nerds = stats_for_nerds
    model_id = await _load(state, user_id) if thread_id else None
    state.loaded = True
    return model_id


async def _load(state: ThreadState, user_id: str) -> str | None:
    try:
        page = await db.run(lambda s: branches.visible_page(
            s, user_id=user_id, thread_id=state.current_thread_id, limit=state._page_size))
    except NotFoundError:
        state.not_found = True
        return None
    state.messages = [message_view(m) for m in page.messages]
    state.has_more = page.has_more
    return page.model_id


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
    return placeholder


def show_final(state: ThreadState, view: MessageView) -> None:
    """Replace a reply's placeholder with how it is stored now."""
    for i, m in enumerate(state.messages):
        if m.id == view.id:
            view.model_label = view.model_label or m.model_label
            state.messages[i] = view
            break


def drop(state: ThreadState, message_id: str) -> None:
    """Take a message off the screen (a reply being regenerated)."""
    state.messages = [m for m in state.messages if m.id != message_id]
