"""Runs one assistant reply: streams from the provider, publishes batches, persists checkpoints.

The reply is written under a lease (services/leases.py): claimed from `pending`, renewed at every
checkpoint, released by the final write. Checkpoints run beside the stream, not in its way, so a
short database outage does not stop the text reaching the browser: they are retried with growing
pauses, and the final row is written once the database answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chatapp import db
from chatapp.cache import StopSignals, get_stop_signals
from chatapp.config import Settings
from chatapp.errors import ChatappError, ProviderError, ValidationError
from chatapp.feeds import FeedWriter, ReplyFeeds, get_reply_feeds
from chatapp.models import ACTIVE_STATUSES, Message, MessageStatus, Thread
from chatapp.models.base import utcnow
from chatapp.providers.base import (
    Accepted,
    Provider,
    ReasoningDelta,
    StreamRequest,
    TextDelta,
    Usage,
    close_quietly,
)
from chatapp.providers.catalog import ModelInfo
from chatapp.services.billing import ledger
from chatapp.services.catalog import serving
from chatapp.services.chat import leases, threads, turns

log = logging.getLogger(__name__)

# How long the final write of a reply keeps trying while the database is away. Longer outages
# are left to the lease: the reply is ended as interrupted, from its last checkpoint.
FINAL_WRITE_PATIENCE_SECONDS = 120.0
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 2.0


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
    user_id: str = ""
    # The row as its final write stored it (None while streaming, or when that write did not
    # land: the reply was ended by someone else, or the database stayed away).
    stored: Message | None = field(default=None, compare=False)
    # Read back by another tab: nobody is writing it any more (see leases.is_orphaned).
    orphaned: bool = False


Publish = Callable[[ReplySnapshot], Awaitable[None]]


@dataclass(slots=True)
class _Progress:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    accepted: bool = False
    first_token_at: float | None = None
    changed: bool = False
    news: asyncio.Event = field(default_factory=asyncio.Event)


async def generate_reply(
    message_id: str,
    *,
    settings: Settings,
    publish: Publish | None = None,
    stop_signals: StopSignals | None = None,
    feeds: ReplyFeeds | None = None,
    resolve: serving.ProviderResolver = serving.resolve,
) -> ReplySnapshot:
    """Generate the reply stored as `message_id` (a pending assistant message).

    How it is paid for was stored with it (ledger.Admission): on the user's own key, which
    must still be there (it never falls back to the server's), or from a budget reservation,
    settled to the real cost at the end. One usage record is written per provider request.

    New text reaches the reply's feed (chatapp/feeds.py: what the browser reads) and `publish`
    at most every `stream_flush_seconds`, and the database about every
    `stream_checkpoint_seconds`; the final state is written whatever happens (finish, Stop,
    provider error, cancellation of this coroutine). A reply that is not pending any more
    (claimed by another task, ended, deleted) is not generated again: its stored state returns.
    """
    signals = stop_signals or get_stop_signals()
    owner = leases.instance_id()
    with leases.writing(message_id):
        claimed = await db.run_patiently(_claim, message_id, owner, leases.expires(settings),
                                         patience=settings.stream_lease_seconds)
        if claimed is None:
            return await load_snapshot(message_id) or ReplySnapshot(
                message_id, "", status=MessageStatus.ERROR, error="This reply no longer exists.")
        reply, thread = claimed
        feed = FeedWriter(feeds or get_reply_feeds(), message_id)
        await feed.start()
        snap = await _run(reply, thread, settings=settings, publish=publish, signals=signals,
                          feed=feed, resolve=resolve, owner=owner)
    if publish:
        await publish(snap)
    return snap


async def _run(
    reply: Message, thread: Thread, *, settings: Settings, publish: Publish | None,
    signals: StopSignals, feed: FeedWriter, resolve: serving.ProviderResolver, owner: str,
) -> ReplySnapshot:
    message_id = reply.id
    snap = ReplySnapshot(message_id, thread.id, status=MessageStatus.STREAMING,
                         user_id=thread.user_id)
    admission = ledger.from_json(reply.admission)
    progress = _Progress()
    writer = _Checkpointer(message_id, owner, settings)
    started = time.monotonic()
    producer: asyncio.Task[None] | None = None
    provider: Provider | None = None
    outcome = MessageStatus.COMPLETE
    failure: ChatappError | None = None
    model: ModelInfo | None = None
    prompt_chars = 0
    try:
        if admission is None:
            raise ValidationError("reply was never admitted",
                                  user_message="This reply was not set up. Retry to try again.")
        entry = serving.model_or_raise(reply.model or thread.model_id)
        model, provider = await ledger.resolve_admitted(
            settings, admission, user_id=thread.user_id, model=entry, resolve=resolve)
        max_out = ledger.max_output_tokens(settings, model)
        context_window = model.context_window
        prompt = await db.run_patiently(
            lambda s: turns.build_prompt(s, message_id=message_id, context_window=context_window,
                                        max_output_tokens=max_out),
            patience=settings.stream_lease_seconds,
        )
        prompt_chars = sum(len(m.content) for m in prompt)
        request = StreamRequest(model=model.api_model, messages=prompt, max_tokens=max_out)
        producer = asyncio.create_task(_consume(provider, request, progress))
        if publish:
            await publish(snap)
        interval = settings.stream_flush_seconds
        last_flush = float("-inf")  # the first token goes out at once
        while True:
            if not progress.changed and not producer.done():
                await _wait_for_news(progress, producer, timeout=interval)
            if writer.lost:
                break  # ended by someone else, or deleted: stop spending on it
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
                await feed.offer(snap.text, snap.reasoning)
                if publish and not done:
                    await publish(snap)
                last_flush = time.monotonic()
                writer.offer(snap.text, snap.reasoning)
            if done:
                producer.result()  # raises the provider's error, if any
                break
    except ChatappError as exc:
        outcome, failure = MessageStatus.ERROR, exc
    except asyncio.CancelledError:
        outcome = MessageStatus.INTERRUPTED  # the server is shutting down
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
            await close_quietly(provider)
        if outcome is MessageStatus.INTERRUPTED:
            error, code = leases.INTERRUPTED_NOTE, leases.INTERRUPTED_CODE
        else:
            error = failure.user_message if failure else None
            code = type(failure).__name__ if failure else None
        snap = replace(snap, text="".join(progress.text), reasoning="".join(progress.reasoning),
                       status=outcome, error=error, error_code=code)
        ttft = (
            int((progress.first_token_at - started) * 1000) if progress.first_token_at else None
        )
        duration = int((time.monotonic() - started) * 1000)
        stored = await asyncio.shield(writer.finish(
            lambda s: _finish(s, snap, progress.usage, ttft, duration, owner)))
        await asyncio.shield(feed.end(snap.text, snap.reasoning, str(snap.status)))
        with contextlib.suppress(Exception):  # a stop signal left behind expires by itself
            await signals.clear(message_id)
        if stored is not None:  # this task ended the reply: it pays for it, once
            await asyncio.shield(ledger.settle(
                settings, admission=admission, user_id=thread.user_id, thread_id=thread.id,
                message_id=message_id, model=model, usage_seen=progress.usage,
                prompt_chars=prompt_chars, produced_chars=len(snap.text) + len(snap.reasoning),
                accepted=progress.accepted, outcome=outcome.value, first_token_ms=ttft,
                duration_ms=duration, patience=FINAL_WRITE_PATIENCE_SECONDS,
            ))
            snap = replace(snap, stored=stored)
        elif writer.lost:
            log.info("reply %s was ended elsewhere; its final write was dropped", message_id)
            snap = await load_snapshot(message_id) or snap
    return snap


class _Checkpointer:
    """Saves a reply's newest text and renews its lease in the background, about every
    checkpoint interval, so the stream never waits on the database. While the database is
    unavailable it retries with growing pauses. `lost` turns True when the reply is no longer
    this writer's (ended as orphaned by someone else, or its thread deleted)."""

    def __init__(self, message_id: str, owner: str, settings: Settings) -> None:
        self._message_id, self._owner, self._settings = message_id, owner, settings
        self._text, self._reasoning = "", ""
        self._offered = self._saved = 0  # versions of the text
        self._stop = asyncio.Event()
        self.lost = False
        self._task = asyncio.create_task(self._run())

    def offer(self, text: str, reasoning: str) -> None:
        self._text, self._reasoning = text, reasoning
        self._offered += 1

    async def _run(self) -> None:
        interval = self._settings.stream_checkpoint_seconds
        wait, pause = interval, RETRY_FIRST_SECONDS
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
                return
            version, text, reasoning = self._offered, self._text, self._reasoning
            content = (text, reasoning) if version > self._saved else None
            try:
                held = await db.run(_checkpoint, self._message_id, self._owner, content,
                                    leases.expires(self._settings))
            except Exception as exc:
                if not db.is_unavailable(exc):
                    log.exception("checkpoint of %s failed", self._message_id)
                wait, pause = pause, min(RETRY_MAX_SECONDS, pause * 2)
                continue
            if not held:
                self.lost = True
                return
            self._saved = max(self._saved, version)
            wait, pause = interval, RETRY_FIRST_SECONDS

    async def finish(self, write_final: Callable[[Session], Message | None]) -> Message | None:
        """Stop checkpointing and write the final row (retried while the database is away);
        the row as written, or None when the reply is not this writer's any more."""
        self._stop.set()
        with contextlib.suppress(BaseException):
            await self._task
        if self.lost:
            return None
        try:
            stored = await db.run_patiently(write_final, patience=FINAL_WRITE_PATIENCE_SECONDS,
                                            first_delay=RETRY_FIRST_SECONDS,
                                            max_delay=RETRY_MAX_SECONDS)
        except Exception:
            # The lease runs out and whoever meets the reply next ends it from its checkpoint.
            log.exception("the final write of %s failed", self._message_id)
            return None
        self.lost = stored is None
        return stored


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
            elif isinstance(event, Accepted):
                progress.accepted = True
                continue
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
        await stream.aclose()


def _held(message_id: str, owner: str) -> sa.ColumnElement[bool]:
    """The reply is still active and this writer's."""
    return sa.and_(col(Message.id) == message_id, col(Message.lease_owner) == owner,
                   col(Message.status).in_(ACTIVE_STATUSES))


def _claim(session: Session, message_id: str, owner: str,
           until: datetime) -> tuple[Message, Thread] | None:
    """Take the lease of a pending reply; None when it is not pending (someone else has it,
    it was ended, or it is gone)."""
    result = session.exec(  # type: ignore[call-overload]
        sa.update(Message)
        .where(col(Message.id) == message_id,
               col(Message.status) == MessageStatus.PENDING.value)
        .values(status=MessageStatus.STREAMING.value, lease_owner=owner,
                lease_expires_at=until, updated_at=utcnow())
    )
    if not result.rowcount:
        return None
    reply = session.get(Message, message_id)
    assert reply is not None
    thread = session.get(Thread, reply.thread_id)
    assert thread is not None
    return reply, thread


def _checkpoint(session: Session, message_id: str, owner: str,
                content: tuple[str, str] | None, until: datetime) -> bool:
    """Renew the lease, and save the text when it changed; False when the reply is not this
    writer's any more."""
    values: dict[str, object] = {"lease_expires_at": until}
    if content is not None:
        values.update(content=content[0], reasoning=content[1], updated_at=utcnow())
    result = session.exec(  # type: ignore[call-overload]
        sa.update(Message).where(_held(message_id, owner)).values(**values)
    )
    return bool(result.rowcount)


def _finish(
    session: Session, snap: ReplySnapshot, usage: Usage | None, ttft_ms: int | None,
    duration_ms: int, owner: str,
) -> Message | None:
    """The final row, written only while the lease is still this writer's (so a reply ended
    as orphaned in the meantime is not finished twice)."""
    values: dict[str, object] = {
        "content": snap.text, "reasoning": snap.reasoning, "status": str(snap.status),
        "error": snap.error, "error_code": snap.error_code, "first_token_ms": ttft_ms,
        "duration_ms": duration_ms, "lease_owner": None, "lease_expires_at": None,
        "admission": None, "updated_at": utcnow(),
    }
    if usage is not None:
        values.update(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                      reasoning_tokens=usage.reasoning_tokens, cached_tokens=usage.cached_tokens)
    result = session.exec(  # type: ignore[call-overload]
        sa.update(Message).where(_held(snap.message_id, owner)).values(**values)
    )
    if not result.rowcount:
        return None
    return session.get(Message, snap.message_id, populate_existing=True)


async def load_snapshot(message_id: str) -> ReplySnapshot | None:
    """The stored state of a reply (what another tab shows while it streams elsewhere)."""

    def load(session: Session) -> ReplySnapshot | None:
        found = session.exec(
            select(Message, Thread.user_id).join(Thread, col(Thread.id) == col(Message.thread_id))
            .where(Message.id == message_id)
        ).first()
        if found is None:
            return None
        msg, user_id = found
        return ReplySnapshot(msg.id, msg.thread_id, msg.content, msg.reasoning, msg.status,
                             msg.error, msg.error_code, user_id=user_id, stored=msg,
                             orphaned=leases.is_orphaned(msg))

    return await db.run(load)


async def request_stop(
    session_user_id: str, message_id: str, *, settings: Settings,
    stop_signals: StopSignals | None = None,
) -> bool:
    """Ask the generation of `message_id` to stop, if the message is the user's. A reply
    nobody is writing any more is ended at once (True); otherwise its writer is signalled."""
    msg, _ = await db.run(lambda s: threads.get_message(s, user_id=session_user_id,
                                                message_id=message_id))
    if leases.is_orphaned(msg):
        return bool(await leases.end_orphans(settings, message_id=message_id))
    await (stop_signals or get_stop_signals()).request(message_id)
    return False


async def stop_thread(user_id: str, thread_id: str, *, settings: Settings) -> None:
    """Stop whatever reply is being written in the user's thread (before it is deleted, say)."""
    active = await db.run(lambda s: threads.active_reply_id(s, user_id=user_id,
                                                            thread_id=thread_id))
    if active:
        await request_stop(user_id, active, settings=settings)
