"""Paying for replies: a reservation is settled to the real cost, refunded, or estimated."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session, select

from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.errors import BudgetExceededError, ProviderConnectionError, ProviderRateLimitError
from chatapp.models import UsageRecord, User
from chatapp.providers.base import Finish, TextDelta, Usage
from chatapp.services.billing import budgets, ledger
from chatapp.services.catalog import keys
from chatapp.services.chat import generation, titles, turns
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import send
from tests.services.helpers import settle as settle_reply

GPT = "openai/gpt-4.1-mini"


def keyed(settings: Settings) -> Settings:
    return settings.model_copy(update={"openai_api_key": settings.secret_key,
                                       "budget_anonymous_usd": 1.0,
                                       "budget_anonymous_per_ip_usd": 1.0})


async def reply_with(session: Session, settings: Settings, user_id: str,
                     provider: ScriptedProvider) -> tuple[str, budgets.Reservation]:
    admission = await ledger.admit(
        settings, user_id=user_id, model_id="openai/gpt-4.1-mini", prompt_chars=len("hello"),
        client_ip="203.0.113.9",
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


# --- every path pays exactly what it should ------------------------------------------------


@pytest.mark.parametrize("retry", [False, True], ids=["send", "retry"])
async def test_a_turn_that_fails_after_admission_gives_the_reservation_back(
    engine, session: Session, settings: Settings, user_id: str,
    monkeypatch: pytest.MonkeyPatch, retry: bool,
) -> None:
    settings = keyed(settings)
    first = send(session, settings, user_id, "hello", model_id=GPT)
    settle_reply(session, first.assistant_message_id)

    def database_error(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("the disk is full"))

    monkeypatch.setattr(turns, "retry_turn" if retry else "start_turn", database_error)
    with pytest.raises(sa.exc.OperationalError):
        if retry:
            await turns.begin_retry(settings, user_id=user_id,
                                    message_id=first.assistant_message_id, model_id=GPT,
                                    client_ip="203.0.113.9")
        else:
            await turns.begin_turn(settings, user_id=user_id, thread_id=first.thread_id,
                                   text="again", model_id=GPT, client_ip="203.0.113.9")

    assert await spent(settings, user_id) == 0


async def test_stop_before_the_first_token_is_charged_the_prompt_the_provider_took(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    question = "q" * 700  # 200 tokens at 3.5 characters a token
    admission = await ledger.admit(settings, user_id=user_id, model_id=GPT,
                                   prompt_chars=len(question), client_ip=None)
    turn = send(session, settings, user_id, question, model_id=GPT, admission=admission)
    provider = ScriptedProvider.text("late", delay=5)  # accepted, then silent
    signals = MemoryStopSignals()
    task = asyncio.create_task(generation.generate_reply(
        turn.assistant_message_id, settings=settings, stop_signals=signals,
        resolve=resolver(provider)))
    while not provider.requests:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await signals.request(turn.assistant_message_id)
    snap = await asyncio.wait_for(task, 5)

    assert (snap.status, snap.text) == ("cancelled", "")
    record = session.exec(
        select(UsageRecord).where(UsageRecord.message_id == turn.assistant_message_id)).one()
    assert (record.input_tokens, record.output_tokens, record.outcome) == (200, 0, "cancelled")
    assert record.cost_microusd == 200 * 0.4
    assert record.cost_microusd - 20 <= await spent(settings, user_id) <= record.cost_microusd


@pytest.mark.parametrize("how", ["deleted", "unreadable"])
async def test_a_reply_admitted_on_an_own_key_never_falls_back_to_the_servers_key(
    engine, session: Session, settings: Settings, how: str
) -> None:
    settings = keyed(settings)  # the server has an OpenAI key too
    user = User(is_anonymous=False, email="own@example.org")
    session.add(user)
    session.commit()
    keys.save_key(session, settings=settings, user_id=user.id, provider="openai",
                  plaintext="sk-own-key-of-the-user")
    session.commit()
    admission = await ledger.admit(settings, user_id=user.id, model_id=GPT,
                                   prompt_chars=len("hi"), client_ip=None)
    assert admission.own_key and admission.reservation is None
    turn = send(session, settings, user.id, "hi", model_id=GPT, admission=admission)
    if how == "deleted":  # in another tab, between Send and generation
        keys.delete_key(session, user_id=user.id, provider="openai")
        session.commit()
    else:  # the operator changed the server secret without keeping the old one
        settings = settings.model_copy(update={"secret_key": SecretStr("another-secret-" * 3)})
    provider = ScriptedProvider([TextDelta("should not be sent"), Usage(5, 5), Finish()])
    fake = resolver(provider)

    snap = await generation.generate_reply(turn.assistant_message_id, settings=settings,
                                           resolve=fake)

    assert snap.status == "error"
    assert snap.error is not None and "Your own OpenAI key" in snap.error
    assert snap.error_code == "OwnKeyUnavailableError"
    assert provider.requests == [] and fake.own_keys == []  # nothing went to any provider
    assert session.exec(select(UsageRecord)).all() == []
    assert await spent(settings, user.id) == 0


async def test_a_title_is_reserved_from_the_allowance_and_charged_what_it_cost(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    turn = send(session, settings, user_id, "Plan a trip to Lisbon", model_id=GPT)
    settle_reply(session, turn.assistant_message_id, "Start in Alfama.")
    provider = ScriptedProvider([TextDelta("Lisbon Trip"), Usage(60, 3), Finish()])

    title = await titles.generate_title(turn.thread_id, settings=settings,
                                        resolve=resolver(provider))

    assert title == "Lisbon Trip"
    record = session.exec(select(UsageRecord).where(UsageRecord.thread_id == turn.thread_id)
                          ).one()
    assert record.message_id is None and record.cost_microusd == 29  # 60 × 0.4 + 3 × 1.6, up
    assert record.cost_microusd - 20 <= await spent(settings, user_id) <= record.cost_microusd


async def test_no_title_when_the_allowance_cannot_cover_it(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings).model_copy(update={"budget_anonymous_usd": 0.00001})
    turn = send(session, settings, user_id, "Plan a trip to Lisbon", model_id=GPT)
    settle_reply(session, turn.assistant_message_id, "Start in Alfama.")
    provider = ScriptedProvider([TextDelta("Lisbon Trip"), Usage(60, 3), Finish()])

    assert await titles.generate_title(turn.thread_id, settings=settings,
                                       resolve=resolver(provider)) is None
    assert provider.requests == []
    assert session.exec(select(UsageRecord)).all() == []


async def test_the_meter_shows_what_is_left_for_metered_models_only(
    engine, session: Session, settings: Settings, user_id: str
) -> None:
    settings = keyed(settings)
    assert await ledger.meter_label(settings, user_id=user_id, model_id=GPT,
                                    client_ip=None) == "100% left"
    await reply_with(session, settings, user_id,
                     ScriptedProvider([TextDelta("hi"), Usage(100_000, 200_000), Finish()]))
    label = await ledger.meter_label(settings, user_id=user_id, model_id=GPT, client_ip=None)
    assert label.startswith("64% left · full in")  # $0.36 of the $1 allowance
    # A free model draws on no allowance: no meter.
    assert await ledger.meter_label(settings, user_id=user_id, model_id="local/smollm2-135m",
                                    client_ip=None) == ""


def test_a_refusal_offers_sign_in_to_anonymous_users_and_own_keys_to_others() -> None:
    over_anonymous = BudgetExceededError(wait_seconds=60, anonymous=True)
    over_signed_in = BudgetExceededError(wait_seconds=60, anonymous=False)
    assert budgets.ways_out(over_anonymous, model_id=GPT) == budgets.WayOut(sign_in=True)
    assert budgets.ways_out(over_signed_in, model_id=GPT) == budgets.WayOut(use_key=True)
    assert budgets.ways_out(over_signed_in, model_id="local/smollm2-135m") == budgets.WayOut()
    assert budgets.ways_out(ValueError("other"), model_id=GPT) == budgets.WayOut()
