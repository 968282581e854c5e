"""Plain dataclasses the UI renders: what a message or a thread looks like on the wire."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, tzinfo

from chatapp import errors
from chatapp.models import Message, MessageStatus
from chatapp.providers.base import Usage
from chatapp.providers.catalog import get_model
from chatapp.services.billing import money
from chatapp.services.chat.branches import Siblings
from chatapp.services.chat.generation import ReplySnapshot
from chatapp.services.chat.search import Segment, ThreadHit
from chatapp.services.chat.threads import ThreadSummary, group_label


@dataclasses.dataclass
class MessageView:
    id: str = ""
    role: str = "user"
    content: str = ""
    status: str = "complete"
    active: bool = False  # still being written (pending or streaming)
    error: str = ""
    can_retry: bool = False
    model_label: str = ""
    live: bool = False  # streaming in this tab: drawn by the live block, not the list
    stats: str = ""  # "stats for nerds": speed, first token, tokens, cost
    # The branch navigator "‹ 2 / 3 ›" (when the message has siblings) and its neighbours.
    branch: str = ""
    previous_branch_id: str = ""
    next_branch_id: str = ""
    # How it is drawn, carried in the view so a message reads no other state (see thread.py).
    editing: bool = False  # the edit box is open on it
    highlight: bool = False  # a search result opened it


@dataclasses.dataclass
class ThreadItem:
    id: str = ""
    title: str = ""
    group: str = ""
    first_in_group: bool = False
    generating: bool = False
    pinned: bool = False
    archived: bool = False
    preview: str = ""  # the start of its newest message, for the tooltip
    message_count: int = 0


@dataclasses.dataclass
class SegmentView:
    text: str = ""
    marked: bool = False


@dataclasses.dataclass
class SearchHitView:
    message_id: str = ""
    role: str = ""
    snippet: list[SegmentView] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SearchResultView:
    thread_id: str = ""
    title: list[SegmentView] = dataclasses.field(default_factory=list)
    archived: bool = False
    hits: list[SearchHitView] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ModelChoice:
    id: str = ""
    label: str = ""
    provider_label: str = ""
    available: bool = True
    reason: str = ""  # why it is not available: "Sign in to use", "Pro", "Add an OpenAI key"


# Ended replies the user may want again: Retry after an error, Regenerate otherwise.
RETRYABLE = (MessageStatus.ERROR, MessageStatus.CANCELLED, MessageStatus.INTERRUPTED)


def message_view(msg: Message, siblings: Siblings | None = None, *,
                 stats: bool = True) -> MessageView:
    """How a stored message is drawn; `stats` gives it its "stats for nerds" line."""
    model = get_model(msg.model) if msg.model else None
    status = MessageStatus(msg.status)
    return MessageView(
        branch=f"{siblings.index} / {siblings.count}" if siblings else "",
        previous_branch_id=siblings.previous_id if siblings else "",
        next_branch_id=siblings.next_id if siblings else "",
        id=msg.id,
        role=msg.role,
        content=msg.content,
        status=msg.status,
        active=status.is_active,
        error=msg.error or "",
        can_retry=msg.role == "assistant" and _worth_retrying(status, msg.error_code),
        model_label=model.label if model else (msg.model or ""),
        stats=reply_stats(msg) if stats else "",
    )


def _worth_retrying(status: MessageStatus, error_code: str | None) -> bool:
    """Regenerate after Stop or an interruption; Retry after an error only when retrying as
    it is can help (a rate limit, an outage), not after a refused key or an overlong chat."""
    if status is MessageStatus.ERROR:
        return errors.retryable(error_code)
    return status in RETRYABLE


def snapshot_view(snap: ReplySnapshot) -> MessageView:
    """A reply as it was last streamed, when the database cannot tell how it is stored."""
    return MessageView(
        id=snap.message_id, role="assistant", content=snap.text, status=str(snap.status),
        active=MessageStatus(snap.status).is_active, error=snap.error or "",
        can_retry=_worth_retrying(MessageStatus(snap.status), snap.error_code),
    )


def reply_stats(msg: Message) -> str:
    """'84 tok/s · 0.42 s to first token · 120 in / 512 out · $0.0009' for a finished reply."""
    if msg.role != "assistant" or not msg.output_tokens:
        return ""
    parts: list[str] = []
    if msg.duration_ms and msg.first_token_ms is not None:
        streaming = (msg.duration_ms - msg.first_token_ms) / 1000
        if streaming > 0:
            parts.append(f"{msg.output_tokens / streaming:.0f} tok/s")
        parts.append(f"{msg.first_token_ms / 1000:.2f} s to first token")
    parts.append(f"{msg.input_tokens or 0:,} in / {msg.output_tokens:,} out tokens")
    model = get_model(msg.model) if msg.model else None
    if model is not None:
        # The same function, on the same counts, as the usage record and the allowance.
        cost = money.actual_cost(model, Usage(input_tokens=msg.input_tokens or 0,
                                              output_tokens=msg.output_tokens,
                                              reasoning_tokens=msg.reasoning_tokens or 0))
        parts.append("free" if cost == 0 else money.dollars(cost))
    return " · ".join(parts)


def thread_items(summaries: list[ThreadSummary], *, zone: tzinfo = UTC,
                 after: ThreadItem | None = None) -> list[ThreadItem]:
    """The sidebar rows (pinned ones under "Pinned"), each group headed once, by the days of
    `zone`; `after` is the last row already shown when these continue the list."""
    items: list[ThreadItem] = []
    last_group = after.group if after else None
    for t in summaries:
        group = "Pinned" if t.pinned and not t.archived else group_label(t.updated_at, zone=zone)
        items.append(ThreadItem(t.id, t.title, group, group != last_group, t.generating,
                                t.pinned, t.archived, t.preview, t.message_count))
        last_group = group
    return items


def search_results(found: list[ThreadHit]) -> list[SearchResultView]:
    def segs(parts: list[Segment]) -> list[SegmentView]:
        return [SegmentView(p.text, p.marked) for p in parts]

    return [SearchResultView(t.thread_id, segs(t.title), t.archived,
                             [SearchHitView(h.message_id, h.role, segs(h.snippet))
                              for h in t.hits]) for t in found]


TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def when(moment: datetime | None) -> str:
    """A stored time as every settings page writes it ("2026-12-01 23:04 UTC")."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT) if moment is not None else ""
