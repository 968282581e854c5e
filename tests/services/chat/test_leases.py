"""Reply leases on SQLite and PostgreSQL: a reply whose writer died is ended as interrupted by
whoever meets it first, settled once; a reply whose writer is alive is never ended."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.models import Message, MessageStatus, UsageRecord
from chatapp.models.base import utcnow
from chatapp.services import maintenance
from chatapp.services.billing import budgets, ledger
from chatapp.services.chat import generation, leases, threads, turns
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import fresh, reply_under_way, send

GPT = "openai/gpt-4.1-mini"
DEAD = "crashed-host:4242:0badf00d"  # the lease owner of a process that no longer exists


def keyed(settings: Settings) -> Settings:
    """A priced model on the server's key, and an allowance big enough for a few replies."""
    return settings.model_copy(update={"openai_api_key": settings.secret_key,
                                       "budget_anonymous_usd": 1.0,
                                       "budget_anonymous_per_ip_usd": 1.0})


async def spent(settings: Settings, user_id: str) -> int:
    store = budgets.get_budget_store(settings)
    bucket = budgets.buckets_for(settings, user_id=user_id, tier="anonymous", client_ip=None)[0]
    return (await store.level(bucket, window=budgets.window_seconds(settings),
                              now=time.time())).spent


async def paid_turn(session: Session, settings: Settings, user_id: str, text: str = "hello"
                    ) -> tuple[str, ledger.Admission]:
    admission = await ledger.admit(settings, user_id=user_id, model_id=GPT,
                                    prompt_chars=len(text), client_ip=None)
    assert admission.reservation is not None and admission.reservation.amount > 0
    turn = send(session, settings, user_id, text, model_id=GPT, admission=admission)
    return turn.assistant_message_id, admission


def crash(session: Session, message_id: str, *, text: str = "Half of the ans",
          expired: bool = True, owner: str = DEAD) -> None:
    """Leave the reply as a writer that died mid-stream leaves it: streaming, its last
    checkpoint written, a lease that is not renewed any more."""
    msg = session.get(Message, message_id)
    assert msg is not None
    msg.status, msg.content, msg.lease_owner = MessageStatus.STREAMING, text, owner
    msg.lease_expires_at = utcnow() + (timedelta(seconds=-1) if expired else timedelta(hours=1))
    session.add(msg)
    session.commit()


def usage_rows(session: Session, message_id: str) -> list[UsageRecord]:
    session.expire_all()
    return list(session.exec(select(UsageRecord).where(UsageRecord.message_id == message_id)))


async def test_a_reply_whose_writer_died_is_ended_as_interrupted_with_its_text_kept(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Tell me a story")
    crash(session, turn.assistant_message_id, text="Once upon a time")
    assert threads.list_threads(session, user_id=user_id)[0].generating

    ended = await leases.end_orphans(settings, user_id=user_id)

    assert ended == [turn.assistant_message_id]
    reply = fresh(engine, Message, turn.assistant_message_id)
    assert reply is not None
    assert (reply.status, reply.content) == (MessageStatus.INTERRUPTED, "Once upon a time")
    assert (reply.error, reply.error_code) == (leases.INTERRUPTED_NOTE, "Interrupted")
    assert (reply.lease_owner, reply.lease_expires_at, reply.admission) == (None, None, None)
    session.expire_all()
    assert not threads.list_threads(session, user_id=user_id)[0].generating
    # The thread takes a new message at once.
    follow_up = send(session, settings, user_id, "Go on", thread_id=turn.thread_id)
    assert fresh(engine, Message, follow_up.assistant_message_id) is not None
    assert await leases.end_orphans(settings, user_id=user_id) == []


async def test_a_reply_whose_writer_is_alive_is_never_ended(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    writing = send(session, settings, user_id, "Still writing")
    crash(session, writing.assistant_message_id, expired=False, owner="other-worker:1:aa")
    fresh_pending = send(session, settings, user_id, "Just sent")  # its lease started now

    assert await leases.end_orphans(settings) == []
    for message_id in (writing.assistant_message_id, fresh_pending.assistant_message_id):
        reply = fresh(engine, Message, message_id)
        assert reply is not None and MessageStatus(reply.status).is_active


async def test_a_lease_of_this_process_with_no_task_writing_it_is_orphaned_at_once(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Lost task")
    crash(session, turn.assistant_message_id, expired=False, owner=leases.instance_id())

    with leases.writing(turn.assistant_message_id):  # while a task here writes it: alive
        assert await leases.end_orphans(settings, user_id=user_id) == []
    assert await leases.end_orphans(settings, user_id=user_id) == [turn.assistant_message_id]


async def test_an_orphan_that_streamed_is_charged_an_estimate_of_what_it_produced(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    message_id, admission = await paid_turn(session, settings, user_id, "x" * 70)
    assert await spent(settings, user_id) >= admission.reservation.amount - 20  # type: ignore[union-attr]
    crash(session, message_id, text="y" * 350)

    await leases.end_orphans(settings, user_id=user_id)

    [record] = usage_rows(session, message_id)
    assert record.outcome == "interrupted"
    # 70 characters of prompt and 350 of reply, at 3.5 characters a token.
    assert (record.input_tokens, record.output_tokens) == (20, 100)
    assert record.cost_microusd == 20 * 0.4 + 100 * 1.6  # GPT-4.1 mini prices
    # The rest of the worst-case reservation went back.
    assert record.cost_microusd - 20 <= await spent(settings, user_id) <= record.cost_microusd


async def test_an_orphan_never_claimed_by_a_writer_is_refunded_in_full(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    message_id, _ = await paid_turn(session, settings, user_id)
    msg = session.get(Message, message_id)
    assert msg is not None and msg.status == MessageStatus.PENDING
    msg.lease_expires_at = utcnow() - timedelta(seconds=1)  # the tab went before it started
    session.add(msg)
    session.commit()

    assert await leases.end_orphans(settings, user_id=user_id) == [message_id]

    assert await spent(settings, user_id) == 0
    assert usage_rows(session, message_id) == []  # no request was ever made
    reply = fresh(engine, Message, message_id)
    assert reply is not None and reply.status == MessageStatus.INTERRUPTED


async def test_two_workers_meeting_the_same_orphan_end_and_settle_it_once(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    message_id, _ = await paid_turn(session, settings, user_id)
    crash(session, message_id, text="z" * 35)

    results = await asyncio.gather(*(leases.end_orphans(settings) for _ in range(4)))

    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(usage_rows(session, message_id)) == 1


async def test_stop_on_an_orphaned_reply_ends_it_at_once(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "Nobody writes this")
    crash(session, turn.assistant_message_id, text="Partial")
    signals = MemoryStopSignals()

    assert await generation.request_stop(user_id, turn.assistant_message_id,
                                         settings=settings, stop_signals=signals)

    reply = fresh(engine, Message, turn.assistant_message_id)
    assert reply is not None
    assert (reply.status, reply.content) == (MessageStatus.INTERRUPTED, "Partial")
    assert not await signals.is_requested(turn.assistant_message_id)


async def test_sending_into_a_thread_a_crash_left_busy_ends_the_orphan_first(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    first = send(session, settings, user_id, "First question")
    crash(session, first.assistant_message_id, text="A partial answer")

    turn = await turns.begin_turn(settings, user_id=user_id, thread_id=first.thread_id,
                                  text="Second question", model_id="local/smollm2-135m",
                                  client_ip=None)

    old = fresh(engine, Message, first.assistant_message_id)
    assert old is not None and old.status == MessageStatus.INTERRUPTED
    new = fresh(engine, Message, turn.assistant_message_id)
    assert new is not None and new.status == MessageStatus.PENDING
    assert new.parent_id == turn.user_message_id


async def test_a_live_writer_keeps_its_lease_through_a_long_wait_for_the_first_token(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    short = settings.model_copy(update={"stream_lease_seconds": 1.0,
                                        "stream_checkpoint_seconds": 0.2})
    turn = send(session, short, user_id, "Think first")
    provider = ScriptedProvider.text("Thought ", "long.", delay=1.6)  # > the lease, per token
    task = asyncio.create_task(generation.generate_reply(
        turn.assistant_message_id, settings=short, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider)))

    sweeps = []
    while not task.done():
        await asyncio.sleep(0.25)
        sweeps.append(await leases.end_orphans(short))
    snap = await task

    assert len(sweeps) > 8 and not any(sweeps)
    assert (snap.status, snap.text) == (MessageStatus.COMPLETE, "Thought long.")
    reply = fresh(engine, Message, turn.assistant_message_id)
    assert reply is not None and reply.status == MessageStatus.COMPLETE


async def test_a_writer_whose_reply_was_ended_elsewhere_stops_and_does_not_pay_twice(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    message_id, _ = await paid_turn(session, settings, user_id)
    provider = ScriptedProvider.text(*(f"w{i} " for i in range(200)), delay=0.02)
    task = await reply_under_way(message_id, settings, provider, GPT)

    def expire() -> None:  # as if this writer had been silent for a whole lease
        with Session(engine) as other:
            msg = other.get(Message, message_id)
            assert msg is not None
            msg.lease_expires_at = utcnow() - timedelta(seconds=1)
            other.add(msg)
            other.commit()

    await asyncio.to_thread(expire)
    assert await leases.end_orphans(settings) == [message_id]
    snap = await asyncio.wait_for(task, 10)

    assert provider.closed_early  # it stopped streaming what nobody would keep
    assert snap.status == MessageStatus.INTERRUPTED
    reply = fresh(engine, Message, message_id)
    assert reply is not None and reply.status == MessageStatus.INTERRUPTED
    assert len(usage_rows(session, message_id)) == 1


@pytest.mark.parametrize("pending", [True, False], ids=["pending", "streaming"])
async def test_the_periodic_sweep_ends_orphans_of_every_user(
    engine: Engine, session: Session, settings: Settings, user_id: str, other_user_id: str,
    pending: bool,
) -> None:
    mine = send(session, settings, user_id, "mine")
    theirs = send(session, settings, other_user_id, "theirs")
    for turn in (mine, theirs):
        if pending:
            msg = session.get(Message, turn.assistant_message_id)
            assert msg is not None
            msg.lease_expires_at = utcnow() - timedelta(seconds=1)
            session.add(msg)
            session.commit()
        else:
            crash(session, turn.assistant_message_id)

    ended = await maintenance.sweep_once(settings)

    assert sorted(ended) == sorted([mine.assistant_message_id, theirs.assistant_message_id])
