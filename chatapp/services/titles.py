"""Short thread titles generated from the first exchange."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import ChatappError
from chatapp.models import Message, MessageRole, Thread
from chatapp.providers.base import ChatMessage, StreamCollector, StreamRequest
from chatapp.providers.catalog import get_model
from chatapp.services import billing, models, threads

log = logging.getLogger(__name__)

TITLE_PROMPT = (
    "Write a short title (3 to 6 words) for a chat that starts with the exchange below. "
    "Reply with the title only, no quotes, no punctuation at the end."
)
TITLE_TIMEOUT_SECONDS = 20.0


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
    thread_id: str, *, settings: Settings, resolve: models.ProviderResolver = models.resolve
) -> str | None:
    """Ask the thread's model for a title and store it; None when it could not (kept as is)."""
    found = await db.run(_first_exchange, thread_id)
    if found is None:
        return None
    thread, question, answer = found
    provider = None
    entry = get_model(thread.model_id)
    own = (await billing.own_keys_for(settings, user_id=thread.user_id, model=entry)
           if entry is not None else {})
    try:
        model, provider = resolve(settings, thread.model_id, own) if own else resolve(
            settings, thread.model_id)
        request = StreamRequest(
            model=model.api_model,
            messages=[
                ChatMessage("system", TITLE_PROMPT),
                ChatMessage(
                    "user", f"User: {question[:1500]}\n\nAssistant: {answer[:1500]}\n\nTitle:"
                ),
            ],
            max_tokens=24,
            temperature=0.2,
        )
        collected = StreamCollector()

        async def collect() -> None:
            async for event in provider.stream(request):
                collected.add(event)

        started = time.monotonic()
        await asyncio.wait_for(collect(), TITLE_TIMEOUT_SECONDS)
        # A title is a provider request too: it gets its usage record (not metered).
        await billing.account_for_reply(
            settings, admission=billing.Admission(own_key=bool(own)), user_id=thread.user_id,
            thread_id=thread.id, message_id=None, model=model, usage_seen=collected.usage,
            produced=True, outcome="complete", first_token_ms=None,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    except (ChatappError, TimeoutError) as exc:
        log.info("title generation for %s skipped: %s", thread_id, type(exc).__name__)
        return None
    finally:
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()
    # Small models often open with a blank line: the title is the first line with text.
    first_line = next((ln for ln in collected.content.splitlines() if ln.strip()), "")
    title = threads.clean_title(first_line)
    if len(title) < 2:
        return None
    await db.run(_save, thread_id, title)
    return title

