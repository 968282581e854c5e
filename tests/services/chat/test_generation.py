"""Generating a reply with a scripted provider on SQLite and PostgreSQL: text, stops, failures."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.errors import NotFoundError, ProviderConnectionError, ProviderRateLimitError
from chatapp.models import Message, MessageStatus
from chatapp.providers.base import Finish, TextDelta, Usage
from chatapp.services.chat import generation, leases, threads
from chatapp.services.chat.generation import ReplySnapshot
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import fresh, reply_under_way, send

WORDS = [f"word{i} " for i in range(40)]


class Recorder:
    """A `publish` callback that keeps every snapshot and when it arrived."""

    def __init__(self) -> None:
        self.snaps: list[ReplySnapshot] = []
        self.times: list[float] = []

    async def __call__(self, snap: ReplySnapshot) -> None:
        self.snaps.append(snap)
        self.times.append(time.monotonic())


def _reply(engine: Engine, message_id: str) -> Message:
    msg = fresh(engine, Message, message_id)
    assert msg is not None
    return msg


async def test_a_normal_reply_is_stored_complete_with_usage_and_timings(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Say hello")
    provider = ScriptedProvider(
        [TextDelta("Hello"), TextDelta(", "), TextDelta("world!"),
         Usage(input_tokens=12, output_tokens=3), Finish("stop")],
        delay=0.03,
    )
    publish = Recorder()

    snap = await generation.generate_reply(
        turn.assistant_message_id, settings=settings, publish=publish,
        stop_signals=MemoryStopSignals(), resolve=resolver(provider),
    )

    assert (snap.status, snap.text, snap.error) == (MessageStatus.COMPLETE, "Hello, world!", None)
    reply = _reply(engine, turn.assistant_message_id)
    assert (reply.status, reply.content, reply.error) == (
        MessageStatus.COMPLETE, "Hello, world!", None
    )
    assert (reply.input_tokens, reply.output_tokens) == (12, 3)
    assert reply.first_token_ms is not None and reply.first_token_ms >= 25
    assert reply.duration_ms is not None and reply.duration_ms >= reply.first_token_ms + 50
    [request] = provider.requests
    assert request.model == "smollm2-135m"
    assert [(m.role, m.content) for m in request.messages] == [("user", "Say hello")]
    assert publish.snaps[-1] == snap
    assert not provider.closed_early
    assert provider.closed  # the adapter's HTTP client was closed at once, not by a finalizer
    summary = threads.list_threads(session, user_id=user_id)[0]
    assert not summary.generating


async def test_text_is_published_in_growing_batches_not_per_token(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Count")
    tokens = [f"t{i} " for i in range(200)]
    provider = ScriptedProvider.text(*tokens, delay=0.002)
    fast = settings.model_copy(update={"stream_flush_seconds": 0.05})
    publish = Recorder()

    started = time.monotonic()
    snap = await generation.generate_reply(
        turn.assistant_message_id, settings=fast, publish=publish,
        stop_signals=MemoryStopSignals(), resolve=resolver(provider),
    )
    elapsed = time.monotonic() - started

    full = "".join(tokens)
    assert snap.text == full
    texts = [s.text for s in publish.snaps]
    assert texts[-1] == full
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    # Batched: about one publish per flush interval, far fewer than the 200 tokens.
    assert len(texts) <= elapsed / 0.05 + 4
    assert len(texts) < 40
    streaming = publish.times[1:-1]
    gaps = [b - a for a, b in zip(streaming, streaming[1:], strict=False)]
    assert all(g >= 0.04 for g in gaps), gaps


async def test_partial_text_is_checkpointed_while_the_stream_runs(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Write slowly")
    provider = ScriptedProvider.text(*WORDS, delay=0.025)  # about one second in all
    task = asyncio.create_task(generation.generate_reply(
        turn.assistant_message_id, settings=settings, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider),
    ))

    seen: Message | None = None
    while not task.done():
        row = await asyncio.to_thread(_reply, engine, turn.assistant_message_id)
        if row.content:
            seen = row
            break
        await asyncio.sleep(0.02)
    running = not task.done()
    snap = await task

    assert running and seen is not None, "no checkpoint reached the database mid-stream"
    assert seen.status == MessageStatus.STREAMING
    assert "".join(WORDS).startswith(seen.content)
    assert len(seen.content) < len(snap.text)
    assert _reply(engine, turn.assistant_message_id).content == "".join(WORDS)


async def test_stop_cancels_keeps_the_partial_text_and_closes_the_stream(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Go on and on")
    provider = ScriptedProvider.text(*WORDS, delay=0.02)
    signals = MemoryStopSignals()
    message_id = turn.assistant_message_id

    async def publish(snap: ReplySnapshot) -> None:
        if snap.status == MessageStatus.STREAMING and len(snap.text.split()) >= 5:
            await generation.request_stop(user_id, message_id, settings=settings,
                                          stop_signals=signals)

    snap = await generation.generate_reply(
        message_id, settings=settings, publish=publish, stop_signals=signals,
        resolve=resolver(provider),
    )

    reply = _reply(engine, message_id)
    assert reply.status == MessageStatus.CANCELLED == snap.status
    assert reply.content == snap.text
    assert len(reply.content.split()) >= 5
    assert "".join(WORDS).startswith(reply.content) and reply.content != "".join(WORDS)
    assert reply.error is None
    assert provider.closed_early
    assert provider.sent < len(WORDS)
    assert not await signals.is_requested(message_id)  # a later retry is not stopped at once


async def test_a_connection_error_mid_stream_keeps_the_text_so_far(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Tell me")
    provider = ScriptedProvider.text("Once ", "upon ", "a ", "time",
                                     error=ProviderConnectionError("reset"), raise_after=3)
    publish = Recorder()

    snap = await generation.generate_reply(
        turn.assistant_message_id, settings=settings, publish=publish,
        stop_signals=MemoryStopSignals(), resolve=resolver(provider),
    )

    reply = _reply(engine, turn.assistant_message_id)
    assert (reply.status, reply.content) == (MessageStatus.ERROR, "Once upon a ")
    assert reply.error == ProviderConnectionError.user_message
    assert reply.error_code == "ProviderConnectionError"
    assert (snap.status, snap.error, snap.error_code) == (
        reply.status, reply.error, reply.error_code
    )
    assert publish.snaps[-1].error == ProviderConnectionError.user_message


async def test_an_error_before_any_text_leaves_an_empty_failed_reply(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "  Are you there?  ")
    provider = ScriptedProvider(error=ProviderRateLimitError("429"))

    await generation.generate_reply(
        turn.assistant_message_id, settings=settings, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider),
    )

    reply = _reply(engine, turn.assistant_message_id)
    assert (reply.status, reply.content) == (MessageStatus.ERROR, "")
    assert reply.error == "The provider is rate limiting requests. Wait a moment and retry."
    assert reply.error_code == "ProviderRateLimitError"
    assert reply.first_token_ms is None
    question = fresh(engine, Message, turn.user_message_id or "")
    assert question is not None
    assert (question.content, question.status) == ("Are you there?", MessageStatus.COMPLETE)


@pytest.mark.parametrize(
    ("model_id", "message"),
    [
        ("nope/nothing", "Unknown model “nope/nothing”."),
        ("openai/gpt-4.1", "GPT-4.1 is not available: OpenAI is not configured on this server."),
    ],
)
async def test_an_unavailable_model_fails_the_reply_with_a_clear_message(
    engine: Engine, session: Session, settings: Settings, user_id: str,
    model_id: str, message: str,
) -> None:
    no_keys = settings.model_copy(update={"openai_api_key": None})
    turn = send(session, settings, user_id, "hi")
    reply = session.get(Message, turn.assistant_message_id)
    assert reply is not None
    reply.model = model_id  # e.g. the key was removed after the message was sent
    session.add(reply)
    session.commit()

    snap = await generation.generate_reply(
        turn.assistant_message_id, settings=no_keys, stop_signals=MemoryStopSignals()
    )

    stored = _reply(engine, turn.assistant_message_id)
    assert (stored.status, stored.error, stored.error_code) == (
        MessageStatus.ERROR, message, "ModelUnavailableError"
    )
    assert snap.error == message


async def test_cancelling_the_task_still_writes_the_final_row(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Long answer please")
    provider = ScriptedProvider.text(*WORDS, delay=0.02)
    task = await reply_under_way(turn.assistant_message_id, settings, provider)
    task.cancel()  # as a server shutdown does
    with pytest.raises(asyncio.CancelledError):
        await task

    reply = _reply(engine, turn.assistant_message_id)
    # Not the user's Stop: the reply is marked interrupted, its text kept, Regenerate offered.
    assert reply.status == MessageStatus.INTERRUPTED
    assert (reply.error, reply.error_code) == (leases.INTERRUPTED_NOTE, "Interrupted")
    assert reply.content and "".join(WORDS).startswith(reply.content)
    assert (reply.lease_owner, reply.lease_expires_at, reply.admission) == (None, None, None)
    assert provider.closed_early
    assert not threads.list_threads(session, user_id=user_id)[0].generating


async def test_purging_the_thread_mid_reply_does_not_bring_it_back(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Something long")
    provider = ScriptedProvider.text(*WORDS, delay=0.01)
    task = await reply_under_way(turn.assistant_message_id, settings, provider)

    def delete() -> None:
        with Session(engine) as other:
            # Deleted, then purged before the reply ends (or the whole account deleted).
            threads.delete_thread(other, user_id=user_id, thread_id=turn.thread_id)
            threads.purge_deleted(other, older_than=timedelta(0))
            other.commit()

    await asyncio.to_thread(delete)
    snap = await task

    # The next checkpoint finds the reply gone: generation stops spending on it.
    assert "".join(WORDS).startswith(snap.text) and snap.text != "".join(WORDS)
    assert provider.closed_early
    assert fresh(engine, Message, turn.assistant_message_id) is None
    assert threads.list_threads(session, user_id=user_id) == []


async def test_stop_is_refused_for_another_users_message(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    turn = send(session, settings, user_id, "mine")
    signals = MemoryStopSignals()

    with pytest.raises(NotFoundError):
        await generation.request_stop(other_user_id, turn.assistant_message_id,
                                      settings=settings, stop_signals=signals)
    assert not await signals.is_requested(turn.assistant_message_id)
    assert not await generation.request_stop(user_id, turn.assistant_message_id,
                                             settings=settings, stop_signals=signals)
    assert await signals.is_requested(turn.assistant_message_id)
