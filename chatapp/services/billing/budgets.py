"""Spending allowances per tier: admission before a request, settling after, the composer's meter.

Amounts are integer micro-USD, priced from the catalog. The buckets themselves live in
budget_store.py (Redis when configured, else the database); this module decides which buckets a
request draws on, what it may cost, and what the user is told.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import ChatappError, NotFoundError, ValidationError
from chatapp.models import User
from chatapp.providers.base import Usage
from chatapp.providers.catalog import ModelInfo
from chatapp.services.billing.store import (
    Admission,
    Bucket,
    BudgetStore,
    DatabaseBudgetStore,
    Level,
    RedisBudgetStore,
)

__all__ = [
    "Admission", "Bucket", "BudgetExceededError", "BudgetStore", "DatabaseBudgetStore", "Level",
    "Meter", "RedisBudgetStore", "Reservation", "Tier", "actual_cost", "address_key", "admit",
    "buckets_for",
    "client_ip", "estimate_cost", "format_duration", "get_budget_store", "limit_for", "meter",
    "refund", "set_tier", "settle", "tier_of", "window_seconds",
]

Tier = Literal["anonymous", "free", "pro"]
SET_TIERS: tuple[Tier, ...] = ("free", "pro")  # what an operator may set; anonymous is implied
CHARS_PER_TOKEN = 3.5  # as chat.py's context trimming; real counts come back as usage


class BudgetExceededError(ChatappError):
    """The request's worst-case cost does not fit in what is left of an allowance."""

    user_message = "You've used your allowance for now."

    def __init__(self, *, wait_seconds: int | None, anonymous: bool) -> None:
        # None: the request alone costs more than the whole allowance, so waiting cannot help.
        self.wait_seconds = wait_seconds
        self.anonymous = anonymous  # the UI offers sign-in then, else the user's own key
        if wait_seconds is None:
            message = ("This message could cost more than your whole allowance. "
                       "Try a shorter conversation or a cheaper model.")
        else:
            message = ("You've used your allowance for now: enough refills in "
                       f"{format_duration(wait_seconds)}.")
        if anonymous:
            message += " Sign in for a bigger allowance."
        super().__init__(message, user_message=message)


@dataclass(frozen=True, slots=True)
class Reservation:
    """What admit() reserved: settle() or refund() it exactly once. Immutable plain data, so it
    can be kept in (and pickled with) a Reflex state; no buckets means nothing was reserved."""

    buckets: tuple[Bucket, ...]
    amount: int
    window: float
    remaining: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Meter:
    percent_left: int
    full_in_seconds: int
    label: str  # "62% left · full in 5 h" or "100% left"


# --- the service ---------------------------------------------------------------------


def tier_of(user: User) -> Tier:
    if user.is_anonymous:
        return "anonymous"
    return "pro" if user.tier == "pro" else "free"


def limit_for(settings: Settings, tier: Tier) -> int:
    usd = {"anonymous": settings.budget_anonymous_usd, "free": settings.budget_free_usd,
           "pro": settings.budget_pro_usd}[tier]
    return round(usd * 1_000_000)


def window_seconds(settings: Settings) -> float:
    return settings.budget_window_hours * 3600


def get_budget_store(settings: Settings) -> BudgetStore:
    """Redis when configured (shared by every worker), else the database."""
    if settings.redis_url:
        return _redis_store(settings.redis_url)
    return DatabaseBudgetStore(db.get_engine())


_REDIS_STORES: dict[str, RedisBudgetStore] = {}


def _redis_store(url: str) -> RedisBudgetStore:
    # One client per process: its connection pool serves every request.
    if url not in _REDIS_STORES:
        _REDIS_STORES[url] = RedisBudgetStore(url)
    return _REDIS_STORES[url]


def address_key(address: str) -> str:
    """IPv6 users usually hold a whole /64, so it counts as one address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:80]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


def buckets_for(settings: Settings, *, user_id: str, tier: Tier,
                client_ip: str | None) -> tuple[Bucket, ...]:
    """The user's bucket; anonymous users also share one per client address."""
    buckets = [Bucket(f"user:{user_id}", limit_for(settings, tier))]
    if tier == "anonymous" and client_ip:
        per_ip = round(settings.budget_anonymous_per_ip_usd * 1_000_000)
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
        raise BudgetExceededError(wait_seconds=admission.wait_seconds,
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


def _micro(tokens: int, usd_per_million: float) -> Decimal:
    # Per-million prices make micro-USD simply tokens × price; Decimal keeps 1.1 × 1000 exact.
    return tokens * Decimal(str(usd_per_million))


def estimate_cost(model: ModelInfo, *, prompt_chars: int, max_output_tokens: int) -> int:
    """The worst case: the prompt (≈ chars/3.5 tokens) plus every output token allowed."""
    prompt_tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN)
    total = _micro(prompt_tokens, model.input_price) + _micro(max_output_tokens,
                                                              model.output_price)
    return math.ceil(total)


def actual_cost(model: ModelInfo, usage: Usage) -> int:
    """What the provider reported, reasoning tokens at the output price, rounded up."""
    total = _micro(usage.input_tokens, model.input_price) + _micro(
        usage.output_tokens + usage.reasoning_tokens, model.output_price)
    return math.ceil(total)


def client_ip(headers: Mapping[str, str], peer: str, trusted_hops: int) -> str:
    """The client's address. Each trusted proxy appends the address it saw to X-Forwarded-For,
    so the entry `trusted_hops` from the right is the last one a client could not forge."""
    if trusted_hops <= 0:
        return peer
    forwarded = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), "")
    entries = [e.strip() for e in forwarded.split(",") if e.strip()]
    if len(entries) < trusted_hops:
        return peer  # fewer entries than proxies: the header did not come through them all
    return _strip_port(entries[-trusted_hops]) or peer


def _strip_port(entry: str) -> str | None:
    for candidate in (entry, entry.rsplit(":", 1)[0], entry.strip("[]"),
                      entry.split("]")[0].lstrip("[")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def set_tier(session: Session, *, who: str, tier: str) -> User:
    """The operator's switch (and where a billing webhook would plug in): by id or email."""
    if tier not in SET_TIERS:
        raise ValidationError(f"tier must be one of {', '.join(SET_TIERS)}, not {tier!r}")
    user = session.get(User, who)
    if user is None:
        matches = session.exec(select(User).where(
            sa.func.lower(User.email) == who.strip().lower(),
            User.is_anonymous == False)).all()  # noqa: E712
        if len(matches) > 1:
            ids = ", ".join(u.id for u in matches)
            raise ValidationError(f"{len(matches)} users have the email {who}; use an id: {ids}")
        user = matches[0] if matches else None
    if user is None:
        raise NotFoundError(f"no user with the id or email {who!r}")
    if user.is_anonymous:
        raise ValidationError(f"user {user.id} is anonymous: only signed-in users have a tier")
    user.tier = tier
    session.add(user)
    session.flush()
    return user
