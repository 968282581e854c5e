"""Spending allowances per tier: admission before a request, settling after, the composer's meter.

Amounts are integer micro-USD, priced from the catalog. The buckets themselves live in
store.py (Redis when configured, else the database); this module decides which buckets a
request draws on, what it may cost, and what the user is told.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import BudgetExceededError
from chatapp.providers.catalog import PROVIDERS, get_model
from chatapp.services.billing import money
from chatapp.services.billing.store import (
    Bucket,
    BudgetStore,
    DatabaseBudgetStore,
    RedisBudgetStore,
)
from chatapp.services.identity.addresses import address_key
from chatapp.services.identity.tiers import Tier


@dataclass(frozen=True, slots=True)
class Reservation:
    """What admit() reserved: settle() or refund() it exactly once. Immutable plain data, so it
    can be kept in (and pickled with) a Reflex state; no buckets means nothing was reserved."""

    buckets: tuple[Bucket, ...]
    amount: int
    window: float
    remaining: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WayOut:
    """What a refused message offers besides waiting: signing in, or the user's own key."""

    sign_in: bool = False
    use_key: bool = False


def ways_out(exc: Exception, *, model_id: str) -> WayOut:
    """An anonymous user over the allowance may sign in for a bigger one; a signed-in user
    may add a key of their own for the model's provider (if it takes one)."""
    if not isinstance(exc, BudgetExceededError):
        return WayOut()
    if exc.anonymous:
        return WayOut(sign_in=True)
    model = get_model(model_id)
    return WayOut(use_key=model is not None and PROVIDERS[model.provider].needs_key)


@dataclass(frozen=True, slots=True)
class Meter:
    percent_left: int
    full_in_seconds: int
    label: str  # "62% left · full in 5 h" or "100% left"


# --- the service ---------------------------------------------------------------------


def limit_for(settings: Settings, tier: Tier) -> int:
    usd = {"anonymous": settings.budget_anonymous_usd, "free": settings.budget_free_usd,
           "pro": settings.budget_pro_usd}[tier]
    return money.from_usd(usd)


def window_seconds(settings: Settings) -> float:
    return settings.budget_window_hours * 3600


def get_budget_store(settings: Settings) -> BudgetStore:
    """Redis when configured (shared by every worker), else the database."""
    if settings.redis_url:
        return _redis_store(settings.redis_url)
    return DatabaseBudgetStore(db.get_engine())


@lru_cache
def _redis_store(url: str) -> RedisBudgetStore:
    # One client per process: its connection pool serves every request.
    return RedisBudgetStore(url)


def buckets_for(settings: Settings, *, user_id: str, tier: Tier,
                client_ip: str | None) -> tuple[Bucket, ...]:
    """The user's bucket; anonymous users also share one per client address."""
    buckets = [Bucket(f"user:{user_id}", limit_for(settings, tier))]
    if tier == "anonymous" and client_ip:
        per_ip = money.from_usd(settings.budget_anonymous_per_ip_usd)
        buckets.append(Bucket(address_key(client_ip), per_ip))
    return tuple(buckets)


def _clock(now: float | None) -> float:
    return time.time() if now is None else now


async def admit(store: BudgetStore, *, settings: Settings, user_id: str, tier: Tier,
                client_ip: str | None = None, estimate_microusd: int,
                now: float | None = None) -> Reservation:
    """Reserve a request's worst-case cost before streaming, or raise BudgetExceededError."""
    window = window_seconds(settings)
    buckets = buckets_for(settings, user_id=user_id, tier=tier, client_ip=client_ip)
    if estimate_microusd <= 0:  # a free model: nothing to meter
        return Reservation((), 0, window)
    admission = await store.reserve(buckets, estimate_microusd, window=window, now=_clock(now))
    if not admission.ok:
        wait = admission.wait_seconds
        raise BudgetExceededError(wait_seconds=wait,
                                  wait=format_duration(wait) if wait is not None else "",
                                  anonymous=tier == "anonymous")
    return Reservation(buckets, estimate_microusd, window, admission.remaining)


async def settle(store: BudgetStore, reservation: Reservation, actual_microusd: int,
                 now: float | None = None) -> None:
    """Charge the actual cost: give back what the reservation overestimated (or add more)."""
    if not reservation.buckets:
        return
    delta = max(0, actual_microusd) - reservation.amount
    if delta:
        await store.adjust(reservation.buckets, delta, window=reservation.window,
                           now=_clock(now))


async def refund(store: BudgetStore, reservation: Reservation, now: float | None = None) -> None:
    """Give the whole reservation back (the provider failed before producing anything)."""
    await settle(store, reservation, 0, now)


async def meter(store: BudgetStore, *, settings: Settings, user_id: str, tier: Tier,
                client_ip: str | None = None, now: float | None = None) -> Meter:
    """What is left, for the composer; the tighter bucket wins for anonymous users."""
    window, at = window_seconds(settings), _clock(now)
    percent, full_in = 100, 0.0
    for bucket in buckets_for(settings, user_id=user_id, tier=tier, client_ip=client_ip):
        if bucket.limit <= 0:
            percent = 0
            continue
        level = await store.level(bucket, window=window, now=at)
        left = max(0, bucket.limit - level.spent) * 100 // bucket.limit
        percent, full_in = min(percent, left), max(full_in, level.full_in_seconds)
    seconds = math.ceil(full_in)
    label = f"{percent}% left" + (f" · full in {_coarse(seconds)}" if seconds else "")
    return Meter(percent, seconds, label)


def format_duration(seconds: float) -> str:
    """'2 h 5 min', '40 min'; rounded up to the minute."""
    minutes = max(1, math.ceil(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _coarse(seconds: int) -> str:
    return f"{round(seconds / 3600)} h" if seconds >= 5400 else format_duration(seconds)
