"""A reply rides out a short database outage: PostgreSQL is stopped for 5 s mid-reply, for real.

The stream keeps reaching the browser, checkpoints are retried, and the final row is written once
the server is back; the reply's lease outlives the outage, so nobody ends it as interrupted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chatapp import db
from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.models import Message, MessageStatus, UsageRecord
from chatapp.services.billing import ledger
from chatapp.services.chat import generation, leases
from chatapp.services.chat.generation import ReplySnapshot
from tests.conftest import migrate
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import fresh, make_user, send
from tests.support.postgres_server import PostgresServer, postgres_server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

GPT = "openai/gpt-4.1-mini"
OUTAGE_SECONDS = 5.0
WORDS = [f"w{i} " for i in range(160)]


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    with postgres_server() as pg:
        migrate(pg.url)
        yield pg


@pytest.fixture
def outage_engine(server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    eng = db.make_engine(server.url)
    monkeypatch.setattr(db, "get_engine", lambda: eng)
    yield eng
    eng.dispose()


class Screen:
    """What the tab was shown, and when."""

    def __init__(self) -> None:
        self.shown: list[tuple[float, str]] = []

    async def __call__(self, snap: ReplySnapshot) -> None:
        self.shown.append((time.monotonic(), snap.text))


async def _stop_for(server: PostgresServer, seconds: float) -> tuple[float, float]:
    await asyncio.to_thread(server.stop)
    down = time.monotonic()
    await asyncio.sleep(seconds)
    await asyncio.to_thread(server.start)
    return down, time.monotonic()


def _keyed(settings: Settings) -> Settings:
    return settings.model_copy(update={"openai_api_key": settings.secret_key,
                                       "budget_anonymous_usd": 1.0,
                                       "stream_checkpoint_seconds": 0.2})


async def _paid_turn(engine: Engine, settings: Settings) -> str:
    with Session(engine, expire_on_commit=False) as session:
        user_id = make_user(session)
        admission = await ledger.admit(settings, user_id=user_id, model_id=GPT,
                                        prompt_chars=len("hello"), client_ip=None)
        return send(session, settings, user_id, "hello", model_id=GPT,
                    admission=admission).assistant_message_id


async def test_the_stream_goes_on_through_an_outage_and_the_reply_is_stored_after_it(
    outage_engine: Engine, server: PostgresServer, settings: Settings
) -> None:
    settings = _keyed(settings)
    message_id = await _paid_turn(outage_engine, settings)
    provider = ScriptedProvider.text(*WORDS, delay=0.05)  # 8 s of tokens
    screen = Screen()
    task = asyncio.create_task(generation.generate_reply(
        message_id, settings=settings, publish=screen, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider, GPT)))
    while not any(text for _, text in screen.shown):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a checkpoint or two landed

    down, up = await _stop_for(server, OUTAGE_SECONDS)
    snap = await asyncio.wait_for(task, 60)

    during = [len(text) for at, text in screen.shown if down <= at <= up]
    assert len(during) >= 10 and during == sorted(during) and during[-1] > during[0], (
        "the text stopped growing on screen while the database was away")
    assert (snap.status, snap.text) == (MessageStatus.COMPLETE, "".join(WORDS))
    reply = fresh(outage_engine, Message, message_id)
    assert reply is not None
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, "".join(WORDS))
    assert await leases.end_orphans(settings) == []
    with Session(outage_engine) as session:
        [record] = session.exec(select(UsageRecord).where(UsageRecord.message_id == message_id))
    assert record.outcome == "complete" and record.cost_microusd > 0


async def test_a_reply_that_ends_during_the_outage_is_written_once_the_database_is_back(
    outage_engine: Engine, server: PostgresServer, settings: Settings
) -> None:
    settings = _keyed(settings)
    message_id = await _paid_turn(outage_engine, settings)
    provider = ScriptedProvider.text(*WORDS[:30], delay=0.05)  # ends 1.5 s in
    screen = Screen()
    task = asyncio.create_task(generation.generate_reply(
        message_id, settings=settings, publish=screen, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider, GPT)))
    while not any(text for _, text in screen.shown):
        await asyncio.sleep(0.05)

    outage = asyncio.create_task(_stop_for(server, OUTAGE_SECONDS))
    snap = await asyncio.wait_for(task, 60)
    down, up = await outage

    assert time.monotonic() >= up, "the final write claimed success while the server was down"
    assert snap.stored is not None and snap.stored.status == MessageStatus.COMPLETE
    assert screen.shown[-1][1] == "".join(WORDS[:30])  # the tab kept the text to the end
    reply = fresh(outage_engine, Message, message_id)
    assert reply is not None
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, "".join(WORDS[:30]))
    assert (reply.lease_owner, reply.admission) == (None, None)
