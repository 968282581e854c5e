"""Paying for a reply: own key or budget admission before streaming, settle and record after."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlmodel import Session

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import NotFoundError, OwnKeyUnavailableError
from chatapp.models import Thread, User
from chatapp.providers.base import Provider, Usage, estimate_tokens
from chatapp.providers.catalog import PROVIDERS, ModelInfo, get_model
from chatapp.services.billing import budgets, money, usage
from chatapp.services.billing.store import Bucket
from chatapp.services.catalog import keys, preferences, serving
from chatapp.services.identity import tiers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """How a reply is paid for: stored as JSON on the reply until it is settled (exactly once,
    by whoever ends the reply), so a reservation outlives the process that made it."""

    own_key: bool
    reservation: budgets.Reservation | None = None
    # The prompt's size when admitted: an orphaned reply's prompt is charged on it.
    prompt_chars: int = 0


def max_output_tokens(settings: Settings, model: ModelInfo) -> int:
    return min(settings.max_output_tokens, max(64, model.context_window // 2))


def to_json(admission: Admission) -> str:
    r = admission.reservation
    return json.dumps({
        "own_key": admission.own_key, "prompt_chars": admission.prompt_chars,
        "reservation": None if r is None else {
            "buckets": [[b.key, b.limit] for b in r.buckets], "amount": r.amount,
            "window": r.window, "remaining": dict(r.remaining),
        },
    })


def from_json(text: str | None) -> Admission | None:
    if not text:
        return None
    data = json.loads(text)
    r = data.get("reservation")
    reservation = None if r is None else budgets.Reservation(
        tuple(Bucket(str(k), int(limit)) for k, limit in r["buckets"]), int(r["amount"]),
        float(r["window"]), {str(k): int(v) for k, v in r["remaining"].items()},
    )
    return Admission(bool(data.get("own_key")), reservation, int(data.get("prompt_chars", 0)))


async def admit(
    settings: Settings, *, user_id: str, model_id: str, prompt_chars: int,
    client_ip: str | None = None, max_output: int | None = None,
) -> Admission:
    """Before a request is made for the user (a reply, a title): on their own key when they
    have one for the model's provider, free to them; otherwise its worst case (the prompt, about
    3.5 characters a token, plus every output token allowed) is reserved from their allowance
    (BudgetExceededError when it does not fit)."""
    model = get_model(model_id)
    if model is None:
        raise NotFoundError(f"model {model_id!r} not found")
    tier, own = await db.run(lambda s: _tier_and_own(s, user_id=user_id, model=model))
    if own:
        return Admission(own_key=True, prompt_chars=prompt_chars)
    estimate = money.estimate_cost(
        model, prompt_chars=prompt_chars,
        max_output_tokens=max_output if max_output is not None else max_output_tokens(settings,
                                                                                      model))
    reservation = await budgets.admit(
        budgets.get_budget_store(settings), settings=settings, user_id=user_id, tier=tier,
        client_ip=client_ip, estimate_microusd=estimate)
    return Admission(own_key=False, reservation=reservation, prompt_chars=prompt_chars)


def _tier_and_own(session: Session, *, user_id: str, model: ModelInfo) -> tuple[tiers.Tier, bool]:
    if session.get(User, user_id) is None:
        raise NotFoundError("user not found")
    access = preferences.access_for(session, user_id=user_id)
    return access.tier, model.provider in access.own_key_providers


async def release(settings: Settings, admission: Admission | None) -> None:
    """Give a reservation back when the message was never stored or never generated."""
    if admission is not None and admission.reservation is not None:
        await budgets.refund(budgets.get_budget_store(settings), admission.reservation)


def charged_usage(
    *, usage_seen: Usage | None, prompt_chars: int, produced_chars: int, accepted: bool,
) -> Usage | None:
    """What one request is charged for. The provider's own count when it sent one; else an
    estimate from the text (a stream cut off before usage came); else, for a request the
    provider accepted that produced nothing (Stop before the first token), its prompt, which
    providers bill once they have it. None: nothing to charge (refused, or never sent)."""
    if usage_seen is not None:
        return usage_seen
    if not produced_chars and not accepted:
        return None
    return Usage(input_tokens=estimate_tokens(prompt_chars),
                 output_tokens=estimate_tokens(produced_chars), estimated=True)


async def settle(
    settings: Settings, *, admission: Admission | None, user_id: str, thread_id: str,
    message_id: str | None, model: ModelInfo | None, usage_seen: Usage | None,
    prompt_chars: int, produced_chars: int, accepted: bool, outcome: str,
    first_token_ms: int | None, duration_ms: int | None, patience: float = 0.0,
) -> None:
    """Once a request for the user has ended: pay for what it used (`charged_usage`), or give
    the reservation back when no request was made (`model` None: refused before sending)."""
    if model is None:
        await release(settings, admission)
        return
    charged = charged_usage(usage_seen=usage_seen, prompt_chars=prompt_chars,
                            produced_chars=produced_chars, accepted=accepted)
    await account_for_reply(
        settings, admission=admission, user_id=user_id, thread_id=thread_id,
        message_id=message_id, model=model, charged=charged, outcome=outcome,
        first_token_ms=first_token_ms, duration_ms=duration_ms, patience=patience)


async def account_for_reply(
    settings: Settings, *, admission: Admission | None, user_id: str, thread_id: str,
    message_id: str | None, model: ModelInfo, charged: Usage | None, outcome: str,
    first_token_ms: int | None, duration_ms: int | None, patience: float = 0.0,
) -> int:
    """After a request: settle its reservation to the cost of `charged` (refund it when there
    is nothing to charge) and write its usage record, retrying the write for `patience`
    seconds while the database is unavailable. Returns the cost in micro-USD."""
    cost = money.actual_cost(model, charged) if charged is not None else 0
    own_key = bool(admission and admission.own_key)
    if admission is not None and admission.reservation is not None:
        store = budgets.get_budget_store(settings)
        try:
            await budgets.settle(store, admission.reservation, cost)
        except Exception:  # the budget store is down: the reply itself still counts
            log.exception("settling the budget for %s failed", message_id)
    u = charged or Usage()

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

    await db.run_patiently(write, patience=patience)
    return cost


async def own_key_for(settings: Settings, *, user_id: str, model: ModelInfo) -> dict[str, str]:
    """{provider: key}: the user's decrypted key for the model's provider, for a request
    admitted on it (never logged). OwnKeyUnavailableError when it was deleted since, or no
    longer opens: such a request fails rather than fall back to the server's key."""
    key = await db.run(lambda s: keys.load_key(s, settings=settings, user_id=user_id,
                                               provider=model.provider))
    if key is None:
        raise OwnKeyUnavailableError(PROVIDERS[model.provider].label)
    return {model.provider: key}


async def resolve_admitted(
    settings: Settings, admission: Admission, *, user_id: str, model: ModelInfo,
    resolve: serving.ProviderResolver,
) -> tuple[ModelInfo, Provider]:
    """The adapter for a request as it was admitted: on the user's own key (which must still
    be there) or on the server's."""
    own = (await own_key_for(settings, user_id=user_id, model=model)
           if admission.own_key else None)
    return resolve(settings, model.id, own)


async def meter_label(settings: Settings, *, user_id: str, model_id: str,
                      client_ip: str | None) -> str:
    """"62% left · full in 5 h" for the composer; "" for a model no allowance pays for (a free
    one) or when the budget store cannot say: the meter is a hint and never breaks a page."""
    model = get_model(model_id)
    if model is None or not money.is_metered(model):
        return ""
    try:
        user = await db.run(lambda s: s.get(User, user_id))
        # A visitor not stored yet is anonymous (and the address's allowance may be spent).
        tier = tiers.tier_of(user)
        meter = await budgets.meter(budgets.get_budget_store(settings), settings=settings,
                                    user_id=user_id, tier=tier, client_ip=client_ip)
    except Exception:
        log.warning("the meter of %s could not be read", user_id, exc_info=True)
        return ""
    return meter.label