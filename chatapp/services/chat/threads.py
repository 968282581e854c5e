"""Threads and the visible branch of their message tree, always scoped to one user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp.errors import NotFoundError
from chatapp.models import ACTIVE_STATUSES, Message, Thread
from chatapp.models.base import utcnow


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: str
    title: str
    updated_at: datetime
    generating: bool


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]  # oldest first, ending at the thread's leaf
    has_more: bool  # older messages exist above the first one
    model_id: str = ""  # the model the thread last used


def get_thread(session: Session, *, user_id: str, thread_id: str) -> Thread:
    """The user's thread, or NotFoundError (also when it belongs to someone else)."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.user_id != user_id:
        raise NotFoundError(f"thread {thread_id!r} not found")
    return thread


def get_message(session: Session, *, user_id: str, message_id: str) -> tuple[Message, Thread]:
    """A message in one of the user's threads, or NotFoundError."""
    row = session.exec(
        select(Message, Thread)
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(Message.id == message_id, Thread.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError(f"message {message_id!r} not found")
    return row[0], row[1]


def list_threads(session: Session, *, user_id: str, limit: int = 200) -> list[ThreadSummary]:
    """The user's threads, most recently active first, with a 'generating' flag each."""
    generating = (
        sa.exists()
        .where(Message.thread_id == Thread.id)
        .where(col(Message.status).in_(ACTIVE_STATUSES))
    )
    rows = session.exec(
        select(Thread.id, Thread.title, Thread.updated_at, generating.label("generating"))
        .where(Thread.user_id == user_id)
        .order_by(col(Thread.updated_at).desc())
        .limit(limit)
    ).all()
    return [ThreadSummary(r[0], r[1], r[2], bool(r[3])) for r in rows]


def branch_ids(session: Session, *, leaf_id: str, limit: int | None = None) -> list[str]:
    """Ids from the root to `leaf_id` (oldest first), at most `limit` of the newest.

    A recursive query walks parent links, so a long thread costs one round trip and
    touches only the messages on the branch, not the whole tree.
    """
    base = select(
        col(Message.id).label("id"), col(Message.parent_id).label("parent_id"),
        sa.literal(0).label("depth"),
    ).where(Message.id == leaf_id)
    walk = base.cte("branch", recursive=True)
    step = select(
        col(Message.id), col(Message.parent_id), (walk.c.depth + 1).label("depth")
    ).join(walk, col(Message.id) == walk.c.parent_id)
    if limit is not None:
        step = step.where(walk.c.depth < limit)
    walk = walk.union_all(step)
    rows = session.exec(select(walk.c.id).order_by(walk.c.depth.desc())).all()
    return list(rows)


def visible_page(
    session: Session, *, user_id: str, thread_id: str, limit: int = 60
) -> MessagePage:
    """The newest `limit` messages of the thread's visible branch."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    if thread.leaf_message_id is None:
        return MessagePage([], False, thread.model_id)
    ids = branch_ids(session, leaf_id=thread.leaf_message_id, limit=limit)
    has_more = len(ids) > limit
    ids = ids[-limit:]
    by_id = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    return MessagePage([by_id[i] for i in ids if i in by_id], has_more, thread.model_id)


def rename_thread(session: Session, *, user_id: str, thread_id: str, title: str) -> Thread:
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    thread.title = clean_title(title) or thread.title
    thread.title_generated = True
    session.add(thread)
    return thread


def delete_thread(session: Session, *, user_id: str, thread_id: str) -> None:
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    session.exec(sa.delete(Message).where(col(Message.thread_id) == thread.id))  # type: ignore[call-overload]
    session.delete(thread)


def clean_title(text: str, *, max_len: int = 60) -> str:
    """A one-line title: markup and quotes stripped, cut at a word boundary."""
    line = " ".join(text.replace("#", " ").replace("*", " ").replace("`", " ").split())
    line = line.strip(" \"'.:-")
    if len(line) <= max_len:
        return line
    cut = line[:max_len].rsplit(" ", 1)[0]
    return (cut or line[:max_len]).rstrip(" ,.;:") + "…"


def group_label(updated_at: datetime, *, now: datetime | None = None) -> str:
    """Sidebar group for a thread: Today / Yesterday / Previous 7 days / Older (UTC days)."""
    now = now or utcnow()
    days = (now.date() - updated_at.date()).days
    if days <= 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    if days <= 7:
        return "Previous 7 days"
    return "Older"


def touch(thread: Thread) -> None:
    thread.updated_at = utcnow()


__all__ = [
    "MessagePage",
    "ThreadSummary",
    "branch_ids",
    "delete_thread",
    "get_message",
    "get_thread",
    "group_label",
    "list_threads",
    "rename_thread",
    "visible_page",
]
