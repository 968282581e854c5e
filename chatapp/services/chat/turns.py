"""Chat turns: a user message and its assistant placeholder, retries, the prompt; and beginning
a turn (end what a crash left behind, admit, store; or give the reservation back), the one call
behind Send and Regenerate, so the order (admission before anything is stored, a refund on every
path that stores nothing) lives in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError, NotFoundError, ValidationError
from chatapp.models import ACTIVE_STATUSES, Message, MessageRole, MessageStatus, Thread
from chatapp.models.message import MAX_MESSAGE_CHARS
from chatapp.providers.base import CHARS_PER_TOKEN, ChatMessage
from chatapp.providers.catalog import get_model
from chatapp.services.billing import ledger
from chatapp.services.catalog import preferences
from chatapp.services.chat import branches, drafts, leases, threads


@dataclass(frozen=True, slots=True)
class Turn:
    thread_id: str
    user_message_id: str | None
    assistant_message_id: str
    new_thread: bool


def check_model(session: Session, settings: Settings, *, user_id: str, model_id: str) -> None:
    """Refuse a model this user may not use here (server config, tier, own keys)."""
    model = get_model(model_id)
    if model is None:
        raise ValidationError(f"unknown model {model_id}", user_message="Pick a model first.")
    ok, reason = preferences.availability(settings, model,
                                          preferences.access_for(session, user_id=user_id))
    if not ok:
        raise ModelUnavailableError(
            f"model {model_id} not available to this user",
            user_message=f"{model.label} is not available here ({reason}).",
        )


def start_turn(
    session: Session,
    *,
    settings: Settings,
    user_id: str,
    thread_id: str | None,
    content: str,
    model_id: str,
    admission: ledger.Admission,
    edit_of: str | None = None,
) -> Turn:
    """Store the user's message and an empty assistant reply, paid for as `admission` says;
    create the thread if needed. With `edit_of` (a user message), the new message is its
    sibling: a new branch from that point, nothing deleted."""
    text = content.strip()
    if not text:
        raise ValidationError("empty message", user_message="Type a message first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError(
            "message too long",
            user_message=f"Messages are limited to {MAX_MESSAGE_CHARS:,} characters.",
        )
    check_model(session, settings, user_id=user_id, model_id=model_id)
    thread, parent_id = _where_it_goes(session, user_id=user_id, thread_id=thread_id,
                                       edit_of=edit_of, text=text, model_id=model_id)
    user_msg = Message(
        thread_id=thread.id, parent_id=parent_id, role=MessageRole.USER, content=text
    )
    session.add(user_msg)
    session.flush()
    reply = _placeholder(settings, thread, parent_id=user_msg.id, model_id=model_id,
                         admission=admission)
    _add_reply(session, thread, reply)
    # What was typed is sent: its draft goes in the same transaction.
    drafts.clear_draft(session, user_id=user_id, slot=thread_id or drafts.NEW_CHAT)
    return Turn(thread.id, user_msg.id, reply.id, new_thread=thread_id is None and not edit_of)


def _where_it_goes(session: Session, *, user_id: str, thread_id: str | None,
                   edit_of: str | None, text: str, model_id: str) -> tuple[Thread, str | None]:
    """The thread a new user message goes into (a new one when none is given) and its parent:
    the leaf of the branch on screen, or for an edit the edited message's parent."""
    if thread_id is None and edit_of is None:
        thread = Thread(user_id=user_id, title=threads.clean_title(text) or "New chat",
                        model_id=model_id)
        session.add(thread)
        session.flush()
        return thread, None
    if edit_of is not None:
        edited, thread = threads.get_message(session, user_id=user_id, message_id=edit_of)
        if edited.role != MessageRole.USER:
            raise NotFoundError("not a user message")
        parent_id = edited.parent_id
    else:
        thread = threads.get_thread(session, user_id=user_id, thread_id=thread_id or "")
        parent_id = thread.leaf_message_id
    if _thread_is_generating(session, thread.id):
        raise ValidationError(
            "thread busy", user_message="Wait for the current reply to finish, or stop it."
        )
    thread.model_id = model_id
    return thread, parent_id


def retry_turn(
    session: Session, *, settings: Settings, user_id: str, message_id: str,
    admission: ledger.Admission, model_id: str | None = None,
) -> Turn:
    """A new reply to the same user message, as a sibling branch of the old one."""
    old, thread = threads.get_message(session, user_id=user_id, message_id=message_id)
    if old.role != MessageRole.ASSISTANT or old.parent_id is None:
        raise NotFoundError("not a reply")
    if MessageStatus(old.status).is_active:
        raise ValidationError("still running", user_message="This reply is still being written.")
    chosen = model_id or thread.model_id
    check_model(session, settings, user_id=user_id, model_id=chosen)
    reply = _placeholder(settings, thread, parent_id=old.parent_id, model_id=chosen,
                         admission=admission)
    thread.model_id = chosen
    _add_reply(session, thread, reply)
    return Turn(thread.id, None, reply.id, new_thread=False)


def _add_reply(session: Session, thread: Thread, reply: Message) -> None:
    """Store a pending reply as the thread's new leaf; refuse a second concurrent one."""
    session.add(reply)
    thread.leaf_message_id = reply.id
    threads.touch(thread)
    session.add(thread)
    try:
        session.flush()
    except IntegrityError:
        # The unique index on active replies: another send on this thread won the race.
        raise ValidationError(
            "thread busy", user_message="Wait for the current reply to finish, or stop it."
        ) from None


def _placeholder(settings: Settings, thread: Thread, *, parent_id: str, model_id: str,
                 admission: ledger.Admission) -> Message:
    """The pending reply. Its lease starts now: if no writer claims it in time (the tab went
    away before generation started), it is ended as interrupted and its reservation given back."""
    provider = model_id.partition("/")[0]
    return Message(
        thread_id=thread.id, parent_id=parent_id, role=MessageRole.ASSISTANT,
        status=MessageStatus.PENDING, provider=provider, model=model_id,
        lease_expires_at=leases.expires(settings), admission=ledger.to_json(admission),
    )


def _thread_is_generating(session: Session, thread_id: str) -> bool:
    return (
        session.exec(
            select(Message.id)
            .where(Message.thread_id == thread_id)
            .where(col(Message.status).in_(ACTIVE_STATUSES))
            .limit(1)
        ).first()
        is not None
    )


def build_prompt(
    session: Session, *, message_id: str, context_window: int, max_output_tokens: int
) -> list[ChatMessage]:
    """The conversation leading to `message_id`, newest turns kept to fit the context window."""
    reply = session.get(Message, message_id)
    if reply is None or reply.parent_id is None:
        raise NotFoundError(f"message {message_id!r} not found")
    ids = branches.branch_ids(session, leaf_id=reply.parent_id)
    rows = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    history = [rows[i] for i in ids if i in rows]
    budget = max(256, context_window - max_output_tokens) * CHARS_PER_TOKEN
    kept: list[ChatMessage] = []
    used = 0.0
    for msg in reversed(history):
        if not msg.content:
            continue  # failed replies with nothing in them
        if used + len(msg.content) > budget and kept:
            break
        kept.append(ChatMessage(role=msg.role, content=msg.content))  # type: ignore[arg-type]
        used += len(msg.content)
    kept.reverse()
    # Providers want the conversation to start with the user.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return kept


# --- beginning a turn -------------------------------------------------------------------


async def begin_turn(
    settings: Settings, *, user_id: str, thread_id: str | None, text: str, model_id: str,
    client_ip: str | None,
) -> Turn:
    """Store the user's message and a pending reply, paid for (BudgetExceededError when the
    allowance cannot cover it; the reservation is given back if anything after it fails)."""
    await leases.end_orphans(settings, user_id=user_id)  # a crashed reply must not block
    return await _admitted(
        settings, user_id=user_id, model_id=model_id, thread_id=thread_id, text=text,
        client_ip=client_ip, retry_of=None,
        store=lambda admission: lambda s: start_turn(
            s, settings=settings, user_id=user_id, thread_id=thread_id, content=text,
            model_id=model_id, admission=admission),
    )


async def begin_edit(
    settings: Settings, *, user_id: str, message_id: str, text: str, model_id: str,
    client_ip: str | None,
) -> Turn:
    """`text` as a new version of the user message `message_id` (a sibling branch), and a
    reply to it."""
    await leases.end_orphans(settings, user_id=user_id)
    return await _admitted(
        settings, user_id=user_id, model_id=model_id, thread_id=None, text=text,
        client_ip=client_ip, retry_of=message_id,
        store=lambda admission: lambda s: start_turn(
            s, settings=settings, user_id=user_id, thread_id=None, content=text,
            model_id=model_id, admission=admission, edit_of=message_id),
    )


async def begin_retry(
    settings: Settings, *, user_id: str, message_id: str, model_id: str, client_ip: str | None,
) -> Turn:
    """A new reply to the same user message, as a sibling branch of `message_id`."""
    await leases.end_orphans(settings, user_id=user_id)
    return await _admitted(
        settings, user_id=user_id, model_id=model_id, thread_id=None, text="",
        client_ip=client_ip, retry_of=message_id,
        store=lambda admission: lambda s: retry_turn(
            s, settings=settings, user_id=user_id, message_id=message_id, model_id=model_id,
            admission=admission),
    )


async def _admitted(settings: Settings, *, user_id: str, model_id: str, thread_id: str | None,
                    text: str, client_ip: str | None, retry_of: str | None,
                    store: Callable[[ledger.Admission], Callable[[Session], Turn]],
                    ) -> Turn:
    history = await db.run(lambda s: history_chars(s, user_id=user_id, thread_id=thread_id,
                                                   retry_of=retry_of))
    admission = await ledger.admit(settings, user_id=user_id, model_id=model_id,
                                   prompt_chars=history + len(text), client_ip=client_ip)
    try:
        return await db.run(store(admission))
    except BaseException:
        # Whatever failed (a refusal, a database error, a cancelled task), nothing was stored.
        await asyncio.shield(ledger.release(settings, admission))
        raise


def history_chars(session: Session, *, user_id: str, thread_id: str | None,
                  retry_of: str | None) -> int:
    """The size of the conversation a new turn sends along (the branch on screen, or the one
    above a regenerated reply or an edited message): what its prompt is estimated from."""
    if retry_of is not None:
        msg, _ = threads.get_message(session, user_id=user_id, message_id=retry_of)
        leaf = msg.parent_id
    elif thread_id is not None:
        leaf = threads.get_thread(session, user_id=user_id, thread_id=thread_id).leaf_message_id
    else:
        return 0
    if leaf is None:
        return 0
    ids = branches.branch_ids(session, leaf_id=leaf, limit=500)
    lengths = session.exec(select(Message.content).where(col(Message.id).in_(ids))).all()
    return sum(len(c or "") for c in lengths)
