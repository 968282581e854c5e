"""Short thread titles generated from the first exchange."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import ChatappError
from chatapp.models import Message, MessageRole, MessageStatus, Thread
from chatapp.providers.base import (
    Accepted,
    ChatMessage,
    StreamCollector,
    StreamRequest,
    close_quietly,
)
from chatapp.providers.catalog import get_model
from chatapp.services.billing import ledger
from chatapp.services.catalog import serving
from chatapp.services.chat import threads
from chatapp.services.chat.generation import ReplySnapshot

log = logging.getLogger(__name__)

TITLE_PROMPT = (
    "Write a short title (3 to 6 words) for a chat that starts with the exchange below. "
    "Reply with the title only, no quotes, no punctuation at the end."
)
TITLE_TIMEOUT_SECONDS = 20.0
TITLE_MAX_TOKENS = 24


def _first_exchange(session: Session, thread_id: str) -> tuple[Thread, str, str] | None:
    thread = session.get(Thread, thread_id)
    if thread is None or thread.title_generated:
        return None
    rows = session.exec(
        select(Message).where(Message.thread_id == thread_id).order_by(col(Message.created_at))
        .limit(4)
    ).all()
    question = next((m.content for m in rows if m.role == MessageRole.USER), "")
    answer = next((m.content for m in rows if m.role == MessageRole.ASSISTANT and m.content), "")
    return (thread, question, answer) if question else None


def _save(session: Session, thread_id: str, title: str) -> None:
    thread = session.get(Thread, thread_id)
    if thread is not None and not thread.title_generated:
        thread.title = title
        thread.title_generated = True
        session.add(thread)


async def generate_title(
    thread_id: str, *, settings: Settings, resolve: serving.ProviderResolver = serving.resolve
) -> str | None:
    """Ask the thread's model for a title and store it; None when it could not (kept as is).

    A title is a request made for the user, so it is paid like a reply: on their own key when
    they have one for the provider (never on the server's instead), else reserved from their
    allowance first (no title when it does not fit) and settled to what it cost.
    """
    found = await db.run(_first_exchange, thread_id)
    if found is None:
        return None
    thread, question, answer = found
    entry = get_model(thread.model_id)
    if entry is None:
        return None
    messages = [
        ChatMessage("system", TITLE_PROMPT),
        ChatMessage("user", f"User: {question[:1500]}\n\nAssistant: {answer[:1500]}\n\nTitle:"),
    ]
    prompt_chars = sum(len(m.content) for m in messages)
    try:
        admission = await ledger.admit(
            settings, user_id=thread.user_id, model_id=entry.id, prompt_chars=prompt_chars,
            max_output=TITLE_MAX_TOKENS)
    except ChatappError as exc:  # over the allowance: the provisional title stays
        log.info("title generation for %s skipped: %s", thread_id, type(exc).__name__)
        return None
    provider = None
    model = None
    collected = StreamCollector()
    accepted = False
    outcome = "complete"
    started = time.monotonic()
    try:
        model, provider = await ledger.resolve_admitted(
            settings, admission, user_id=thread.user_id, model=entry, resolve=resolve)
        request = StreamRequest(model=model.api_model, messages=messages,
                                max_tokens=TITLE_MAX_TOKENS, temperature=0.2)

        async def collect() -> None:
            nonlocal accepted
            async for event in provider.stream(request):
                accepted = accepted or isinstance(event, Accepted)
                collected.add(event)

        await asyncio.wait_for(collect(), TITLE_TIMEOUT_SECONDS)
    except (ChatappError, TimeoutError) as exc:
        log.info("title generation for %s skipped: %s", thread_id, type(exc).__name__)
        outcome = "error"
    finally:
        if provider is not None:
            await close_quietly(provider)
        await ledger.settle(
            settings, admission=admission, user_id=thread.user_id, thread_id=thread.id,
            message_id=None, model=model, usage_seen=collected.usage, prompt_chars=prompt_chars,
            produced_chars=len(collected.content), accepted=accepted, outcome=outcome,
            first_token_ms=None, duration_ms=int((time.monotonic() - started) * 1000),
        )
    if outcome != "complete":
        return None
    # Small models often open with a blank line: the title is the first line with text.
    first_line = next((ln for ln in collected.content.splitlines() if ln.strip()), "")
    title = threads.clean_title(first_line)
    if len(title) < 2:
        return None
    await db.run(_save, thread_id, title)
    return title


async def after_reply(snap: ReplySnapshot, *, settings: Settings) -> str | None:
    """A title for the thread once the reply to its first message completed (when titles are
    on and the thread has none yet); None otherwise."""
    if not settings.title_generation or snap.status != MessageStatus.COMPLETE:
        return None
    if not await db.run(_answers_the_first_message, snap.message_id):
        return None
    return await generate_title(snap.thread_id, settings=settings)


def _answers_the_first_message(session: Session, message_id: str) -> bool:
    reply = session.get(Message, message_id)
    question = session.get(Message, reply.parent_id) if reply and reply.parent_id else None
    return question is not None and question.parent_id is None
