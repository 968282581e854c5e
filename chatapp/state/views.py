"""Plain dataclasses the UI renders: what a message or a thread looks like on the wire."""

from __future__ import annotations

import dataclasses

from chatapp.models import Message, MessageStatus
from chatapp.providers.catalog import get_model
from chatapp.services.threads import ThreadSummary, group_label


@dataclasses.dataclass
class MessageView:
    id: str = ""
    role: str = "user"
    content: str = ""
    status: str = "complete"
    error: str = ""
    can_retry: bool = False
    model_label: str = ""
    live: bool = False  # streaming in this tab: drawn by the live block, not the list


@dataclasses.dataclass
class ThreadItem:
    id: str = ""
    title: str = ""
    group: str = ""
    first_in_group: bool = False
    generating: bool = False


@dataclasses.dataclass
class ModelChoice:
    id: str = ""
    label: str = ""
    provider_label: str = ""


def message_view(msg: Message) -> MessageView:
    model = get_model(msg.model) if msg.model else None
    status = MessageStatus(msg.status)
    return MessageView(
        id=msg.id,
        role=msg.role,
        content=msg.content,
        status=msg.status,
        error=msg.error or "",
        can_retry=msg.role == "assistant" and status in (MessageStatus.ERROR,
                                                          MessageStatus.CANCELLED),
        model_label=model.label if model else (msg.model or ""),
    )


def thread_items(summaries: list[ThreadSummary]) -> list[ThreadItem]:
    items: list[ThreadItem] = []
    last_group = None
    for t in summaries:
        group = group_label(t.updated_at)
        items.append(ThreadItem(t.id, t.title, group, group != last_group, t.generating))
        last_group = group
    return items
