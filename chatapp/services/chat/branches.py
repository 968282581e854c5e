"""The message tree of a thread: the branch on screen and pages of it, sibling branches,
switching between them, and forking a branch into a new thread. Always scoped to one user."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp.errors import NotFoundError, ValidationError
from chatapp.models import ACTIVE_STATUSES, Message, MessageStatus, Thread
from chatapp.models.base import new_id
from chatapp.services.chat import threads

PAGE = 60
# Opening a thread shows its newest this many (a screen or more): a long thread opens about as
# fast as a short one (docs/benchmarks.md); scrolling up then loads PAGE at a time.
FIRST_PAGE = 20
BUSY = "Wait for the current reply to finish, or stop it."


@dataclass(frozen=True, slots=True)
class Siblings:
    """Where a message stands among the messages sharing its parent (its branches)."""

    index: int  # 1-based
    count: int
    previous_id: str = ""
    next_id: str = ""


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]  # oldest first: a stretch of the branch on screen
    has_more: bool  # older messages exist above the first one
    model_id: str = ""  # the model the thread last used
    has_newer: bool = False  # newer messages exist below the last one (a page around a hit)
    siblings: dict[str, Siblings] = field(default_factory=dict)  # only for messages with some


def branch_ids(session: Session, *, leaf_id: str, limit: int | None = None,
               stop_at: str | None = None) -> list[str]:
    """Ids from the root to `leaf_id` (oldest first): at most `limit` of the newest, and
    none older than `stop_at` (included) when it is on the way.

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
    if stop_at is not None:
        step = step.where(walk.c.id != stop_at)
    walk = walk.union_all(step)
    rows = session.exec(select(walk.c.id).order_by(walk.c.depth.desc())).all()
    return list(rows)


def visible_page(session: Session, *, user_id: str, thread_id: str,
                 limit: int = PAGE) -> MessagePage:
    """The newest `limit` messages of the thread's visible branch."""
    thread = threads.get_thread(session, user_id=user_id, thread_id=thread_id)
    if thread.leaf_message_id is None:
        return MessagePage([], False, thread.model_id)
    ids = branch_ids(session, leaf_id=thread.leaf_message_id, limit=limit)
    return _page(session, thread, ids[-limit:], has_more=len(ids) > limit)


def page_before(session: Session, *, user_id: str, thread_id: str, before_id: str,
                limit: int = PAGE) -> MessagePage:
    """The `limit` messages of the branch above `before_id` (for scrolling up)."""
    thread = threads.get_thread(session, user_id=user_id, thread_id=thread_id)
    first = _in_thread(session, thread, before_id)
    if first.parent_id is None:
        return _page(session, thread, [], has_more=False)
    ids = branch_ids(session, leaf_id=first.parent_id, limit=limit)
    return _page(session, thread, ids[-limit:], has_more=len(ids) > limit)


def page_after(session: Session, *, user_id: str, thread_id: str, after_id: str,
               limit: int = PAGE) -> MessagePage:
    """The `limit` messages of the branch on screen below `after_id` (for scrolling down a
    page opened around an old message)."""
    thread = threads.get_thread(session, user_id=user_id, thread_id=thread_id)
    _in_thread(session, thread, after_id)
    newer = _newer_than(session, thread, after_id)
    return _page(session, thread, newer[:limit], has_more=True, has_newer=len(newer) > limit)


def page_around(session: Session, *, user_id: str, message_id: str,
                limit: int = PAGE) -> MessagePage:
    """A page of the branch through `message_id` with it in the middle: the thread shows
    that branch from now on (a search hit on another branch switches to it)."""
    msg, thread = threads.get_message(session, user_id=user_id, message_id=message_id)
    if thread.leaf_message_id is None or not _on_branch(session, thread, msg.id):
        _switch(session, thread, msg.id)
    newer = _newer_than(session, thread, msg.id)
    older = branch_ids(session, leaf_id=msg.id, limit=limit)  # ends with the message itself
    # Half a page below it, or more when there is not enough above it to fill the page.
    below = min(len(newer), max(limit // 2, limit - len(older)))
    keep = limit - below
    return _page(session, thread, older[-keep:] + newer[:below], has_more=len(older) > keep,
                 has_newer=len(newer) > below)


def switch_branch(session: Session, *, user_id: str, message_id: str) -> Thread:
    """Show the branch through `message_id`, down to its most recent message: the choice is
    stored on the thread (a reload shows it, the composer continues it)."""
    msg, thread = threads.get_message(session, user_id=user_id, message_id=message_id)
    if _is_generating(session, thread.id):
        raise ValidationError("thread busy", user_message=BUSY)
    _switch(session, thread, msg.id)
    return thread


def fork(session: Session, *, user_id: str, message_id: str) -> Thread:
    """A new thread holding copies of the branch from its root to `message_id`, titled after
    the original and linked back to it; the original is untouched."""
    msg, original = threads.get_message(session, user_id=user_id, message_id=message_id)
    if MessageStatus(msg.status).is_active:
        raise ValidationError("still running", user_message="This reply is still being written.")
    ids = branch_ids(session, leaf_id=msg.id)
    rows = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    copy = Thread(user_id=user_id, title=original.title, title_generated=True,
                  title_by_user=original.title_by_user, model_id=original.model_id,
                  forked_from_thread_id=original.id, forked_from_message_id=msg.id)
    session.add(copy)
    session.flush()
    parent: str | None = None
    copies = []
    skip = {"id", "thread_id", "parent_id", "lease_owner", "lease_expires_at", "admission"}
    for i in ids:
        values = {k: v for k, v in rows[i].model_dump().items() if k not in skip}
        copies.append(Message(**values, id=new_id(), thread_id=copy.id, parent_id=parent))
        parent = copies[-1].id
    session.add_all(copies)
    copy.leaf_message_id = parent
    session.add(copy)
    session.flush()
    return copy


def siblings_of(session: Session, *, user_id: str, message_ids: list[str]) -> dict[str, Siblings]:
    """Where each of the user's `message_ids` stands among its siblings (those with some)."""
    rows = session.exec(
        select(Message).join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(col(Message.id).in_(message_ids), Thread.user_id == user_id)
    ).all()
    found: dict[str, Siblings] = {}
    for thread_id in {m.thread_id for m in rows}:
        found |= _siblings(session, thread_id, [m for m in rows if m.thread_id == thread_id])
    return found


# --- inside the tree ------------------------------------------------------------------------


def _in_thread(session: Session, thread: Thread, message_id: str) -> Message:
    msg = session.get(Message, message_id)
    if msg is None or msg.thread_id != thread.id:
        raise NotFoundError(f"message {message_id!r} not found")
    return msg


def _on_branch(session: Session, thread: Thread, message_id: str) -> bool:
    assert thread.leaf_message_id is not None
    return branch_ids(session, leaf_id=thread.leaf_message_id, stop_at=message_id)[:1] == [
        message_id]


def _newer_than(session: Session, thread: Thread, message_id: str) -> list[str]:
    """The ids below `message_id` on the branch on screen, oldest first."""
    if thread.leaf_message_id is None:
        return []
    ids = branch_ids(session, leaf_id=thread.leaf_message_id, stop_at=message_id)
    return ids[1:] if ids[:1] == [message_id] else []


def _switch(session: Session, thread: Thread, message_id: str) -> None:
    """Make the newest message under `message_id` (itself when it has none) the leaf."""
    child = sa.orm.aliased(Message)
    base = select(col(Message.id).label("id")).where(Message.id == message_id)
    tree = base.cte("subtree", recursive=True)
    tree = tree.union_all(select(col(Message.id)).join(tree, col(Message.parent_id) == tree.c.id))
    leaf = session.exec(
        select(Message.id).join(tree, tree.c.id == col(Message.id))
        .where(~sa.exists().where(col(child.parent_id) == col(Message.id)))
        .order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(1)
    ).first()
    thread.leaf_message_id = leaf or message_id
    session.add(thread)
    session.flush()


def _is_generating(session: Session, thread_id: str) -> bool:
    return session.exec(
        select(Message.id).where(Message.thread_id == thread_id,
                                 col(Message.status).in_(ACTIVE_STATUSES)).limit(1)
    ).first() is not None


def _page(session: Session, thread: Thread, ids: list[str], *, has_more: bool,
          has_newer: bool = False) -> MessagePage:
    by_id = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    messages = [by_id[i] for i in ids if i in by_id]
    return MessagePage(messages, has_more, thread.model_id, has_newer,
                       _siblings(session, thread.id, messages))


def _siblings(session: Session, thread_id: str, messages: list[Message]) -> dict[str, Siblings]:
    """For each message of the page that has siblings, where it stands among them (oldest
    first): one query for the whole page."""
    parents = {m.parent_id for m in messages}
    if not parents:
        return {}
    named = [p for p in parents if p is not None]
    where = col(Message.parent_id).in_(named) if named else sa.false()
    if None in parents:
        where = sa.or_(where, col(Message.parent_id).is_(None))
    rows = session.exec(
        select(Message.id, Message.parent_id).where(Message.thread_id == thread_id, where)
        .order_by(col(Message.created_at), col(Message.id))
    ).all()
    groups: dict[str | None, list[str]] = {}
    for ident, parent in rows:
        groups.setdefault(parent, []).append(ident)
    found: dict[str, Siblings] = {}
    for m in messages:
        group = groups.get(m.parent_id, [])
        if len(group) > 1 and m.id in group:
            i = group.index(m.id)
            found[m.id] = Siblings(i + 1, len(group), group[i - 1] if i > 0 else "",
                                   group[i + 1] if i + 1 < len(group) else "")
    return found


__all__ = [
    "MessagePage", "Siblings", "branch_ids", "fork", "page_after", "page_around", "page_before",
    "siblings_of", "switch_branch", "visible_page",
]
