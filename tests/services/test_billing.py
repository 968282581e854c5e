"""Paying for replies: a reservation is settled to the real cost, refunded, or estimated."""

from __future__ import annotations

import time

from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import ProviderConnectionError, ProviderRateLimitError
from chatapp.models import UsageRecord
from chatapp.providers.base import Finish, TextDelta, Usage
from chatapp.services import billing, budgets, generation
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import send


def keyed(settings: Settings) -> Settings:
    return settings.model_copy(update={"openai_api_key": settings.secret_key,
                                       "budget_anonymous_usd": 1.0,
                                       "budget_anonymous_per_ip_usd": 1.0})


async def reply_with(session: Session, settings: Settings, user_id: str,
                     provider: ScriptedProvider) -> tuple[str, budgets.Reservation]:
    admission = await billing.admit_turn(
        settings, user_id=user_id, model_id="openai/gpt-4.1-mini", thread_id=None,
        text="hello", client_ip="203.0.113.9",
    )
    assert admission.reservation is not None and admission.reservation.amount > 0
    turn = send(session, settings, user_id, "hello", model_id="openai/gpt-4.1-mini",
                admission=admission)
    await generation.generate_reply(turn.assistant_message_id, settings=settings,
                                     resolve=resolver(provider))
    return turn.assistant_message_id, admission.reservation


async def spent(settings: Settings, user_id: str) -> int:
    store = budgets.get_budget_store(settings)
    bucket = budgets.buckets_for(settings, user_id=user_id, tier="anonymous",
                                 client_ip=None)[0]
    return (await store.level(bucket, window=budgets.window_seconds(settings),
                              now=time.time())).spent


async def test_a_finished_reply_is_charged_its_real_cost_and_recorded(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    provider = ScriptedProvider([TextDelta("hi there"), Usage(100, 200), Finish()])
    message_id, reservation = await reply_with(session, settings, user_id, provider)

    record = session.exec(select(UsageRecord).where(UsageRecord.message_id == message_id)).one()
    assert record.cost_microusd == 100 * 0.4 + 200 * 1.6  # GPT-4.1 mini prices
    assert (record.input_tokens, record.output_tokens, record.outcome) == (100, 200, "complete")
    # The rest went back (the bucket also drains ~12 micro-USD a second as time passes).
    assert 340 <= await spent(settings, user_id) <= 360 < reservation.amount


async def test_a_failure_before_any_text_is_refunded(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    provider = ScriptedProvider([], error=ProviderRateLimitError("429"))
    message_id, _ = await reply_with(session, settings, user_id, provider)

    assert await spent(settings, user_id) == 0
    record = session.exec(select(UsageRecord).where(UsageRecord.message_id == message_id)).one()
    assert (record.cost_microusd, record.outcome) == (0, "error")


async def test_a_stream_cut_before_usage_is_charged_an_estimate_not_nothing(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    provider = ScriptedProvider.text("x" * 700, error=ProviderConnectionError("cut"),
                                     raise_after=1)
    message_id, _ = await reply_with(session, settings, user_id, provider)

    record = session.exec(select(UsageRecord).where(UsageRecord.message_id == message_id)).one()
    assert record.output_tokens == 200  # 700 characters at 3.5 a token
    assert record.cost_microusd > 0
    assert record.cost_microusd - 20 <= await spent(settings, user_id) <= record.cost_microusd
