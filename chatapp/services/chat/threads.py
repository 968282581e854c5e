"""Threads and the visible branch of their message tree, always scoped to one user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp.errors import NotFoundError
from chatapp.models import ACTIVE_STATUSES, Draft, Message, Thread, Visibility
from chatapp.models.base import utcnow

PAGE_SIZE = 50  # threads per sidebar page
PINNED_MAX = 200  # pinned threads all come on the first page
PREVIEW_CHARS = 140
PURGE_AFTER = timedelta(minutes=2)  # a deleted thread can be undone this long, then it goes


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: str
    title: str
    updated_at: datetime
    generating: bool
    pinned: bool = False
    archived: bool = False
    preview: str = ""  # the start of the newest message on the branch shown
    message_count: int = 0


@dataclass(frozen=True, slots=True)
class ThreadListPage:
    threads: list[ThreadSummary]
    cursor: str  # where the next page starts ("" when there is none)


def get_thread(session: Session, *, user_id: str, thread_id: str,
               deleted: bool = False) -> Thread:
    """The user's thread, or NotFoundError (also when it belongs to someone else, and when it
    was deleted, unless `deleted` asks for one in its undo window)."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.user_id != user_id or (thread.deleted_at is not None) != deleted:
        raise NotFoundError(f"thread {thread_id!r} not found")
    return thread


def get_message(session: Session, *, user_id: str, message_id: str) -> tuple[Message, Thread]:
    """A message in one of the user's threads, or NotFoundError."""
    row = session.exec(
        select(Message, Thread)
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(Message.id == message_id, Thread.user_id == user_id,
               col(Thread.deleted_at).is_(None))
    ).first()
    if row is None:
        raise NotFoundError(f"message {message_id!r} not found")
    return row[0], row[1]


def list_threads(session: Session, *, user_id: str, archived: bool = False,
                 cursor: str = "", limit: int = PAGE_SIZE) -> list[ThreadSummary]:
    """One page of the user's threads (see `thread_page`), without its cursor."""
    return thread_page(session, user_id=user_id, archived=archived, cursor=cursor,
                       limit=limit).threads


def thread_page(session: Session, *, user_id: str, archived: bool = False, cursor: str = "",
                limit: int = PAGE_SIZE) -> ThreadListPage:
    """The user's threads, most recently active first: on the first page every pinned one
    (the visible list only), then `limit` others; `cursor` continues after the last of those.

    Each comes with a 'generating' flag, the start of its newest message and how many
    messages it holds, in the same query.
    """
    generating = (
        sa.exists()
        .where(Message.thread_id == Thread.id)
        .where(col(Message.status).in_(ACTIVE_STATUSES))
    )
    count = (select(sa.func.count()).select_from(Message)
             .where(Message.thread_id == Thread.id).scalar_subquery())
    leaf = sa.orm.aliased(Message)
    columns = (Thread.id, Thread.title, Thread.updated_at, generating.label("generating"),
               Thread.pinned, Thread.visibility,
               sa.func.substr(leaf.content, 1, PREVIEW_CHARS).label("preview"),
               count.label("message_count"))
    visibility = Visibility.ARCHIVED if archived else Visibility.VISIBLE

    def query(*where: Any) -> Any:
        return (select(*columns)
                .outerjoin(leaf, col(leaf.id) == col(Thread.leaf_message_id))
                .where(Thread.user_id == user_id, Thread.visibility == visibility,
                       col(Thread.deleted_at).is_(None), *where)
                .order_by(col(Thread.updated_at).desc(), col(Thread.id).desc()))

    rows: list[Any] = []
    others: list[Any] = [] if archived else [Thread.pinned == sa.false()]
    if not cursor and not archived:
        rows += session.exec(query(Thread.pinned == sa.true()).limit(PINNED_MAX)).all()
    if cursor:
        moment, _, last_id = cursor.partition("|")
        after = datetime.fromisoformat(moment)
        others.append(sa.or_(col(Thread.updated_at) < after,
                             sa.and_(col(Thread.updated_at) == after, col(Thread.id) < last_id)))
    page = session.exec(query(*others).limit(limit + 1)).all()
    more = len(page) > limit
    page = page[:limit]
    rows += page
    summaries = [ThreadSummary(r[0], r[1], r[2], bool(r[3]), bool(r[4]),
                               r[5] == Visibility.ARCHIVED, " ".join((r[6] or "").split()),
                               int(r[7] or 0))
                 for r in rows]
    last = page[-1] if page else None
    next_cursor = f"{last[2].isoformat()}|{last[0]}" if more and last else ""
    return ThreadListPage(summaries, next_cursor)


def rename_thread(session: Session, *, user_id: str, thread_id: str, title: str) -> Thread:
    """The user's own title: no automatic title replaces it later."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    thread.title = clean_title(title, max_len=TITLE_MAX) or thread.title
    thread.title_generated = thread.title_by_user = True
    session.add(thread)
    return thread


def set_pinned(session: Session, *, user_id: str, thread_id: str, pinned: bool) -> Thread:
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    thread.pinned = pinned
    session.add(thread)
    return thread


def set_archived(session: Session, *, user_id: str, thread_id: str, archived: bool) -> Thread:
    """Archive (out of the list, into the Archived view) or restore a thread."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    thread.visibility = Visibility.ARCHIVED if archived else Visibility.VISIBLE
    session.add(thread)
    return thread


def delete_thread(session: Session, *, user_id: str, thread_id: str) -> Thread:
    """Delete a thread: at once gone from every list, page and search; `undo_delete` brings it
    back until the sweep purges it (PURGE_AFTER)."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    thread.deleted_at = utcnow()
    session.add(thread)
    return thread


def undo_delete(session: Session, *, user_id: str, thread_id: str) -> Thread:
    thread = get_thread(session, user_id=user_id, thread_id=thread_id, deleted=True)
    thread.deleted_at = None
    session.add(thread)
    return thread


def fork_origin(session: Session, *, user_id: str, thread_id: str) -> tuple[str, str] | None:
    """The thread this one was forked from, as (id, title), while it is still the user's."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    if thread.forked_from_thread_id is None:
        return None
    origin = session.get(Thread, thread.forked_from_thread_id)
    if origin is None or origin.user_id != user_id or origin.deleted_at is not None:
        return None
    return origin.id, origin.title


def active_reply_id(session: Session, *, user_id: str, thread_id: str) -> str:
    """The reply being written in the user's thread ("" when none)."""
    thread = get_thread(session, user_id=user_id, thread_id=thread_id)
    return session.exec(
        select(Message.id).where(Message.thread_id == thread.id,
                                 col(Message.status).in_(ACTIVE_STATUSES)).limit(1)
    ).first() or ""


def purge_deleted(session: Session, *, older_than: timedelta = PURGE_AFTER) -> int:
    """Delete for good the threads deleted longer ago than `older_than`, with their messages
    and drafts; how many."""
    cutoff = utcnow() - older_than
    ids = list(session.exec(select(Thread.id).where(col(Thread.deleted_at) < cutoff)).all())
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        session.exec(sa.delete(Draft).where(col(Draft.slot).in_(chunk)))  # type: ignore[call-overload]
        session.exec(sa.delete(Message).where(col(Message.thread_id).in_(chunk)))  # type: ignore[call-overload]
        session.exec(sa.delete(Thread).where(col(Thread.id).in_(chunk)))  # type: ignore[call-overload]
    return len(ids)


TITLE_MAX = 200


def clean_title(text: str, *, max_len: int = 60) -> str:
    """A one-line title: markup and quotes stripped, cut at a word boundary."""
    line = " ".join(text.replace("#", " ").replace("*", " ").replace("`", " ").split())
    line = line.strip(" \"'.:-")
    if len(line) <= max_len:
        return line
    cut = line[:max_len].rsplit(" ", 1)[0]
    return (cut or line[:max_len]).rstrip(" ,.;:") + "…"


def group_label(updated_at: datetime, *, now: datetime | None = None,
                zone: tzinfo = UTC) -> str:
    """Sidebar group for a thread: Today / Yesterday / Previous 7 days / Previous 30 days, then
    its month ("November 2026"), by the days of the user's time zone."""
    local = updated_at.astimezone(zone)
    days = ((now or utcnow()).astimezone(zone).date() - local.date()).days
    if days <= 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    if days <= 7:
        return "Previous 7 days"
    if days <= 30:
        return "Previous 30 days"
    return f"{local:%B %Y}"


ZONE_COOKIE = "chatapp_tz"  # the browser's IANA time zone, set by assets/chat.js
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


def zone_named(name: str | None) -> tzinfo:
    """The time zone the browser reported, UTC when there is none or it is unknown (the
    name reaches the tz database only when it looks like one: no paths, no dots)."""
    if not name or len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def touch(thread: Thread) -> None:
    thread.updated_at = utcnow()


__all__ = [
    "ZONE_COOKIE",
    "ThreadListPage",
    "ThreadSummary",
    "delete_thread",
    "fork_origin",
    "get_message",
    "get_thread",
    "group_label",
    "list_threads",
    "purge_deleted",
    "rename_thread",
    "set_archived",
    "set_pinned",
    "thread_page",
    "undo_delete",
    "zone_named",
]
