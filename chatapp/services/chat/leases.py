"""Reply leases: which process is writing a reply, and ending the replies nobody is writing.

The process streaming a reply holds a lease on it and renews it at every checkpoint. When the
process dies (a crash, `kill -9`, a restart, a lost worker) the lease runs out, and whoever meets
the reply first (a page load, a send, Stop, the periodic sweep) ends it as *interrupted*: its last
checkpoint kept, a note, and Regenerate. A reply whose writer is alive is never ended: its lease
keeps being renewed, and every write of its writer is conditional on still holding it, so the two
can never both finish the same reply. Whoever does end a reply settles what it reserved, once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.models import ACTIVE_STATUSES, Message, MessageStatus, Thread
from chatapp.models.base import utcnow
from chatapp.providers.catalog import get_model
from chatapp.services.billing import ledger

log = logging.getLogger(__name__)

# Shown beside an "Interrupted" badge, so the two read "Interrupted: the server restarted…".
INTERRUPTED_NOTE = "The server restarted before this reply was finished."
INTERRUPTED_CODE = "Interrupted"
# Replies this process is writing right now (a lease of ours without one here is orphaned).
_writing: set[str] = set()


@cache
def instance_id() -> str:
    """This process, as a lease owner: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{secrets.token_hex(4)}"


def expires(settings: Settings, now: datetime | None = None) -> datetime:
    """When a lease taken or renewed now runs out."""
    return (now or utcnow()) + timedelta(seconds=settings.stream_lease_seconds)


@contextmanager
def writing(message_id: str) -> Iterator[None]:
    """Marks `message_id` as being written by this process for the duration."""
    _writing.add(message_id)
    try:
        yield
    finally:
        _writing.discard(message_id)


def is_orphaned(msg: Message, *, now: datetime | None = None) -> bool:
    """Still active, but nobody is writing it: its lease ran out (or it never had one, as
    replies from before leases), or its lease is this process's and no task here writes it."""
    if msg.status not in ACTIVE_STATUSES:
        return False
    if msg.lease_expires_at is None or msg.lease_expires_at <= (now or utcnow()):
        return True
    return msg.lease_owner == instance_id() and msg.id not in _writing


@dataclass(frozen=True, slots=True)
class _Candidate:
    message: Message
    user_id: str


def _find(session: Session, *, user_id: str | None, thread_id: str | None,
          message_id: str | None) -> list[_Candidate]:
    query = (select(Message, Thread.user_id)
             .join(Thread, col(Thread.id) == col(Message.thread_id))
             .where(col(Message.status).in_(ACTIVE_STATUSES)))
    if user_id is not None:
        query = query.where(Thread.user_id == user_id)
    if thread_id is not None:
        query = query.where(Message.thread_id == thread_id)
    if message_id is not None:
        query = query.where(Message.id == message_id)
    return [_Candidate(m, u) for m, u in session.exec(query).all()]


def _end(session: Session, msg: Message, now: datetime) -> bool:
    """End `msg` as interrupted if it is still the orphan we saw; False if someone (its
    writer, another worker) got there first."""
    if msg.lease_expires_at is None or msg.lease_expires_at <= now:
        still_orphaned = sa.or_(col(Message.lease_expires_at).is_(None),
                                col(Message.lease_expires_at) <= now)
    else:  # ours, with no task writing it
        still_orphaned = col(Message.lease_owner) == instance_id()
    result = session.exec(  # type: ignore[call-overload]
        sa.update(Message)
        .where(col(Message.id) == msg.id, col(Message.status).in_(ACTIVE_STATUSES), still_orphaned)
        .values(status=MessageStatus.INTERRUPTED.value, error=INTERRUPTED_NOTE,
                error_code=INTERRUPTED_CODE, admission=None, lease_owner=None,
                lease_expires_at=None, updated_at=now)
    )
    return bool(result.rowcount)


async def end_orphans(
    settings: Settings, *, user_id: str | None = None, thread_id: str | None = None,
    message_id: str | None = None, now: datetime | None = None,
) -> list[str]:
    """End the orphaned replies in scope (all of them when no scope is given) as interrupted,
    and settle each one's reservation on an estimate of what it produced. Returns their ids."""
    at = now or utcnow()
    found = await db.run(_find, user_id=user_id, thread_id=thread_id, message_id=message_id)
    ended: list[str] = []
    for candidate in found:
        msg = candidate.message
        if not is_orphaned(msg, now=at):
            continue
        if not await db.run(_end, msg, at):
            continue
        ended.append(msg.id)
        log.info("ended orphaned reply %s (lease of %s)", msg.id, msg.lease_owner or "nobody")
        try:
            await _settle(settings, msg, candidate.user_id)
        except Exception:  # the reply is ended either way; the budget store may be down
            log.exception("settling orphaned reply %s failed", msg.id)
    return ended


async def _settle(settings: Settings, msg: Message, user_id: str) -> None:
    admission = ledger.from_json(msg.admission)
    # Never claimed by a writer: no request went out, so nothing is owed (model None).
    claimed = msg.status != MessageStatus.PENDING
    await ledger.settle(
        settings, admission=admission, user_id=user_id, thread_id=msg.thread_id,
        message_id=msg.id, model=get_model(msg.model) if msg.model and claimed else None,
        usage_seen=None, prompt_chars=admission.prompt_chars if admission else 0,
        produced_chars=len(msg.content) + len(msg.reasoning), accepted=True,
        outcome="interrupted", first_token_ms=msg.first_token_ms, duration_ms=None,
    )
