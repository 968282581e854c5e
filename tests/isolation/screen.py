"""What a tab's chat page shows, read from the states that hold it (thread and composer)."""

from __future__ import annotations

import dataclasses

from chatapp.state.composer import ComposerState
from chatapp.state.thread import ThreadState, loaded
from chatapp.state.views import MessageView
from tests.isolation.harness import Tab


@dataclasses.dataclass
class ChatScreen:
    notice: str
    messages: list[MessageView]
    not_found: bool
    current_thread_id: str
    busy: bool


async def chat_screen(tab: Tab) -> ChatScreen:
    thread, composer = await tab.state(ThreadState), await tab.state(ComposerState)
    return ChatScreen(composer.notice, await loaded(thread), thread.not_found,
                      thread.current_thread_id, thread.busy)
