"""Paying for a reply: own key or budget admission before streaming, settle and record after."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import NotFoundError
from chatapp.models import Message, Thread, User
from chatapp.providers.base import Usage
from chatapp.providers.catalog import ModelInfo, get_model
from chatapp.services import budgets, keys, threads, usage
from chatapp.services.budget_store import Bucket

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Admission:
    """How a reply is paid for; kept with the tab's generation (pickles with the state)."""

    own_key: bool
    reservation: budgets.Reservation | None = None


def max_output_tokens(settings: Settings, model: ModelInfo) -> int:
    return min(settings.max_output_tokens, max(64, model.context_window // 2))


def _prepare(session: Session, settings: Settings, *, user_id: str, model_id: str,
             thread_id: str | None, retry_of: str | None) -> tuple[budgets.Tier, bool, int]:
    user = session.get(User, user_id)
    model = get_model(model_id)
    if user is None or model is None:
        raise NotFoundError("user or model not found")
    own = model.provider in keys.own_key_providers(session, user_id=user_id)
    history = 0
    if thread_id is not None or retry_of is not None:
        if retry_of is not None:
            _, thread = threads.get_message(session, user_id=user_id, message_id=retry_of)
        else:
            thread = threads.get_thread(session, user_id=user_id, thread_id=thread_id or "")
        history = _branch_chars(session, thread)
    return budgets.tier_of(user), own, history


def _branch_chars(session: Session, thread: Thread) -> int:
    if thread.leaf_message_id is None:
        return 0
    ids = threads.branch_ids(session, leaf_id=thread.leaf_message_id, limit=500)
    lengths = session.exec(select(Message.content).where(col(Message.id).in_(ids))).all()
    return sum(len(c or "") for c in lengths)


def to_plain(admission: Admission | None) -> dict | None:
    """Plain data for a Reflex backend var (state objects come back as proxies there)."""
    if admission is None:
        return None
    r = admission.reservation
    return {
        "own_key": admission.own_key,
        "reservation": None if r is None else {
            "buckets": [[b.key, b.limit] for b in r.buckets], "amount": r.amount,
            "window": r.window, "remaining": dict(r.remaining),
        },
    }


def from_plain(data: dict | None) -> Admission | None:
    if not data:
        return None
    r = data.get("reservation")
    reservation = None if r is None else budgets.Reservation(
        tuple(Bucket(str(k), int(limit)) for k, limit in r["buckets"]), int(r["amount"]),
        float(r["window"]), dict(r["remaining"]),
    )
    return Admission(bool(data.get("own_key")), reservation)


async def admit_turn(
    settings: Settings, *, user_id: str, model_id: str, thread_id: str | None, text: str,
    client_ip: str | None, retry_of: str | None = None,
) -> Admission:
    """Before a message is stored: a reply on the user's own key is free to them; otherwise
    its worst-case cost is reserved from their allowance (BudgetExceededError if it cannot)."""
    tier, own, history = await db.run(
        lambda s: _prepare(s, settings, user_id=user_id, model_id=model_id,
                           thread_id=thread_id, retry_of=retry_of)
    )
    if own:
        return Admission(own_key=True)
    model = get_model(model_id)
    assert model is not None
    estimate = budgets.estimate_cost(model, prompt_chars=history + len(text),
                                     max_output_tokens=max_output_tokens(settings, model))
    store = budgets.get_budget_store(settings)
    reservation = await budgets.admit(store, settings=settings, user_id=user_id, tier=tier,
                                      client_ip=client_ip, estimate_microusd=estimate)
    return Admission(own_key=False, reservation=reservation)


async def release(settings: Settings, admission: Admission | None) -> None:
    """Give a reservation back when the message was never stored or never generated."""
    if admission is not None and admission.reservation is not None:
        await budgets.refund(budgets.get_budget_store(settings), admission.reservation)


async def account_for_reply(
    settings: Settings, *, admission: Admission | None, user_id: str, thread_id: str,
    message_id: str | None, model: ModelInfo, usage_seen: Usage | None, produced: bool,
    outcome: str, first_token_ms: int | None, duration_ms: int, produced_chars: int = 0,
    prompt_chars: int = 0,
) -> int:
    """After a reply: settle (or refund when nothing was produced) and write its usage record.
    A stream cut off before the provider reported usage is charged on an estimate from the
    text, never as free. Returns the cost in micro-USD."""
    if usage_seen is None and produced:
        usage_seen = Usage(input_tokens=math.ceil(prompt_chars / budgets.CHARS_PER_TOKEN),
                           output_tokens=math.ceil(produced_chars / budgets.CHARS_PER_TOKEN),
                           estimated=True)
    cost = budgets.actual_cost(model, usage_seen) if usage_seen is not None else 0
    own_key = bool(admission and admission.own_key)
    if admission is not None and admission.reservation is not None:
        store = budgets.get_budget_store(settings)
        try:
            if produced:
                await budgets.settle(store, admission.reservation, cost)
            else:
                await budgets.refund(store, admission.reservation)
        except Exception:  # the budget store is down: the reply itself still counts
            log.exception("settling the budget for %s failed", message_id)
    u = usage_seen or Usage()

    def write(session: Session) -> None:
        if session.get(Thread, thread_id) is None:
            return  # deleted while generating
        usage.record(
            session, user_id=user_id, thread_id=thread_id, message_id=message_id,
            provider=model.provider, model=model.id, input_tokens=u.input_tokens,
            output_tokens=u.output_tokens, reasoning_tokens=u.reasoning_tokens,
            cached_tokens=u.cached_tokens, cost_microusd=cost, own_key=own_key,
            first_token_ms=first_token_ms, duration_ms=duration_ms, outcome=outcome,
        )

    await db.run(write)
    return cost


async def own_keys_for(settings: Settings, *, user_id: str, model: ModelInfo) -> dict[str, str]:
    """The user's decrypted key for this model's provider, if they stored one (never logged)."""
    return await db.run(lambda s: keys.load_keys(s, settings=settings, user_id=user_id,
                                                 providers=[model.provider]))


async def meter_for(settings: Settings, *, user_id: str, client_ip: str | None
                    ) -> budgets.Meter:
    """What is left of the user's allowance, for the composer."""
    user = await db.run(lambda s: s.get(User, user_id))
    if user is None:
        raise NotFoundError("user not found")
    return await budgets.meter(budgets.get_budget_store(settings), settings=settings,
                               user_id=user_id, tier=budgets.tier_of(user), client_ip=client_ip)
