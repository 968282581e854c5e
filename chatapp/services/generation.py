"""Runs one assistant reply: streams from the provider, publishes batches, persists checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from sqlmodel import Session

from chatapp import db
from chatapp.cache import StopSignals, get_stop_signals
from chatapp.config import Settings
from chatapp.errors import ChatappError, ProviderError
from chatapp.models import Message, MessageStatus, Thread
from chatapp.models.base import utcnow
from chatapp.providers.base import Provider, ReasoningDelta, StreamRequest, TextDelta, Usage
from chatapp.providers.catalog import ModelInfo, get_model
from chatapp.services import billing, chat, models

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplySnapshot:
    """What the user sees of a reply at one moment."""

    message_id: str
    thread_id: str
    text: str = ""
    reasoning: str = ""
    status: str = MessageStatus.PENDING
    error: str | None = None
    error_code: str | None = None


Publish = Callable[[ReplySnapshot], Awaitable[None]]


@dataclass(slots=True)
class _Progress:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    first_token_at: float | None = None
    changed: bool = False
    news: asyncio.Event = field(default_factory=asyncio.Event)


async def generate_reply(
    message_id: str,
    *,
    settings: Settings,
    publish: Publish | None = None,
    stop_signals: StopSignals | None = None,
    resolve: models.ProviderResolver = models.resolve,
    admission: billing.Admission | None = None,
) -> ReplySnapshot:
    """Generate the reply stored as `message_id` (a pending assistant message).

    `admission` says how it is paid for (the user's own key, or a budget reservation that is
    settled to the real cost at the end, or refunded if nothing was produced); one usage
    record is written per provider request.

    Text reaches `publish` at most every `stream_flush_seconds` and the database at least
    every `stream_checkpoint_seconds`; the final state is written whatever happens
    (finish, stop, provider error, or cancellation of this coroutine).
    """
    signals = stop_signals or get_stop_signals()
    reply, thread = await db.run(_claim, message_id)
    snap = ReplySnapshot(message_id, thread.id, status=MessageStatus.STREAMING)
    progress = _Progress()
    started = time.monotonic()
    producer: asyncio.Task[None] | None = None
    provider: Provider | None = None
    outcome = MessageStatus.COMPLETE
    failure: ChatappError | None = None
    model: ModelInfo | None = None
    prompt_chars = 0
    try:
        model_id = reply.model or thread.model_id
        entry = get_model(model_id)
        own = (await billing.own_keys_for(settings, user_id=thread.user_id, model=entry)
               if admission is not None and admission.own_key and entry is not None else {})
        model, provider = resolve(settings, model_id, own) if own else resolve(settings, model_id)
        max_out = billing.max_output_tokens(settings, model)
        prompt = await db.run(
            lambda s: chat.build_prompt(
                s, message_id=message_id, context_window=model.context_window,
                max_output_tokens=max_out,
            )
        )
        prompt_chars = sum(len(m.content) for m in prompt)
        request = StreamRequest(model=model.api_model, messages=prompt, max_tokens=max_out)
        producer = asyncio.create_task(_consume(provider, request, progress))
        if publish:
            await publish(snap)
        interval = settings.stream_flush_seconds
        last_flush = float("-inf")  # the first token goes out at once
        last_checkpoint = time.monotonic()
        while True:
            if not progress.changed and not producer.done():
                await _wait_for_news(progress, producer, timeout=interval)
            if await signals.is_requested(message_id):
                outcome = MessageStatus.CANCELLED
                break
            hold = last_flush + interval - time.monotonic()
            if progress.changed and hold > 0 and not producer.done():
                # Batch: at most one flush per interval, however fast tokens come.
                await asyncio.wait({producer}, timeout=hold)
            done = producer.done()
            if progress.changed:
                progress.changed = False
                snap = replace(snap, text="".join(progress.text),
                               reasoning="".join(progress.reasoning))
                if publish and not done:
                    await publish(snap)
                last_flush = time.monotonic()
                if last_flush - last_checkpoint >= settings.stream_checkpoint_seconds:
                    await db.run(_checkpoint, message_id, snap.text, snap.reasoning)
                    last_checkpoint = time.monotonic()
            if done:
                producer.result()  # raises the provider's error, if any
                break
    except ChatappError as exc:
        outcome, failure = MessageStatus.ERROR, exc
    except asyncio.CancelledError:
        outcome = MessageStatus.CANCELLED
        raise
    except Exception as exc:  # a bug or an unmapped SDK error: still end the reply cleanly
        log.exception("generation of %s failed", message_id)
        outcome = MessageStatus.ERROR
        failure = ProviderError(type(exc).__name__, user_message="The reply failed unexpectedly.")
    finally:
        if producer is not None and not producer.done():
            producer.cancel()
            with contextlib.suppress(BaseException):
                await producer
        if provider is not None:
            await _close(provider)
        snap = replace(
            snap,
            text="".join(progress.text),
            reasoning="".join(progress.reasoning),
            status=outcome,
            error=failure.user_message if failure else None,
            error_code=type(failure).__name__ if failure else None,
        )
        ttft = (
            int((progress.first_token_at - started) * 1000) if progress.first_token_at else None
        )
        duration = int((time.monotonic() - started) * 1000)
        await asyncio.shield(db.run(_finish, snap, progress.usage, ttft, duration))
        await signals.clear(message_id)
        if model is not None:  # a request was made: pay for it and record it
            await asyncio.shield(billing.account_for_reply(
                settings, admission=admission, user_id=thread.user_id, thread_id=thread.id,
                message_id=message_id, model=model, usage_seen=progress.usage,
                produced=bool(progress.text or progress.reasoning), outcome=outcome.value,
                first_token_ms=ttft, duration_ms=duration,
                produced_chars=len(snap.text) + len(snap.reasoning),
                prompt_chars=prompt_chars,
            ))
        elif admission is not None:
            await billing.release(settings, admission)
    if publish:
        await publish(snap)
    return snap


async def _wait_for_news(progress: _Progress, producer: asyncio.Task[None], *,
                         timeout: float) -> None:
    """Sleep until new text arrives, the stream ends, or `timeout` (to check Stop)."""
    progress.news.clear()
    if progress.changed:
        return
    news = asyncio.ensure_future(progress.news.wait())
    try:
        await asyncio.wait({producer, news}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        news.cancel()


async def _consume(provider: Provider, request: StreamRequest, progress: _Progress) -> None:
    stream = provider.stream(request)
    try:
        async for event in stream:
            if isinstance(event, TextDelta):
                progress.text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                progress.reasoning.append(event.text)
            elif isinstance(event, Usage):
                progress.usage = event
                continue
            else:
                continue
            if progress.first_token_at is None:
                progress.first_token_at = time.monotonic()
            progress.changed = True
            progress.news.set()
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _close(provider: Provider) -> None:
    """Close the adapter's HTTP client now, not from a finalizer on some other event loop."""
    aclose = getattr(provider, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _claim(session: Session, message_id: str) -> tuple[Message, Thread]:
    reply = session.get(Message, message_id)
    if reply is None:
        raise LookupError(message_id)
    thread = session.get(Thread, reply.thread_id)
    assert thread is not None
    reply.status = MessageStatus.STREAMING
    reply.updated_at = utcnow()
    session.add(reply)
    return reply, thread


def _checkpoint(session: Session, message_id: str, text: str, reasoning: str) -> None:
    reply = session.get(Message, message_id)
    if reply is not None:
        reply.content, reply.reasoning, reply.updated_at = text, reasoning, utcnow()
        session.add(reply)


def _finish(
    session: Session, snap: ReplySnapshot, usage: Usage | None, ttft_ms: int | None,
    duration_ms: int,
) -> None:
    reply = session.get(Message, snap.message_id)
    if reply is None:
        return  # the thread was deleted while generating
    reply.content, reply.reasoning = snap.text, snap.reasoning
    reply.status, reply.error, reply.error_code = snap.status, snap.error, snap.error_code
    reply.first_token_ms, reply.duration_ms = ttft_ms, duration_ms
    if usage is not None:
        reply.input_tokens, reply.output_tokens = usage.input_tokens, usage.output_tokens
        reply.reasoning_tokens, reply.cached_tokens = usage.reasoning_tokens, usage.cached_tokens
    reply.updated_at = utcnow()
    session.add(reply)


async def owner_of(thread_id: str) -> str:
    """The user a thread belongs to ("" when it is gone)."""
    thread = await db.run(lambda s: s.get(Thread, thread_id))
    return thread.user_id if thread is not None else ""


async def load_message(message_id: str) -> Message | None:
    """The stored reply, as the list shows it once streaming ends."""
    return await db.run(lambda s: s.get(Message, message_id))


async def load_snapshot(message_id: str) -> ReplySnapshot | None:
    """The stored state of a reply (what another tab shows while it streams elsewhere)."""

    def load(session: Session) -> ReplySnapshot | None:
        msg = session.get(Message, message_id)
        if msg is None:
            return None
        return ReplySnapshot(msg.id, msg.thread_id, msg.content, msg.reasoning, msg.status,
                             msg.error, msg.error_code)

    return await db.run(load)


async def request_stop(
    session_user_id: str, message_id: str, *, stop_signals: StopSignals | None = None
) -> None:
    """Ask the generation of `message_id` to stop, if the message is the user's."""
    from chatapp.services.threads import get_message

    await db.run(lambda s: get_message(s, user_id=session_user_id, message_id=message_id))
    await (stop_signals or get_stop_signals()).request(message_id)


def recover_interrupted(session: Session) -> int:
    """Mark replies left pending/streaming by a crash or restart as cancelled (text kept)."""
    from sqlmodel import col, select

    rows = session.exec(
        select(Message).where(col(Message.status).in_(("pending", "streaming")))
    ).all()
    for msg in rows:
        msg.status = MessageStatus.CANCELLED if msg.content else MessageStatus.ERROR
        if not msg.content:
            msg.error = "The server restarted before this reply was written. Retry to try again."
            msg.error_code = "Interrupted"
        session.add(msg)
    return len(rows)
