"""Money, one type end to end: whole micro-USD (millionths of a dollar) as int, from the
catalog's per-million prices to allowances, usage records, the usage page and the numbers under
a reply, which therefore can never disagree. Also how an amount is written."""

from __future__ import annotations

import math
from decimal import Decimal

from chatapp.providers.base import Usage, estimate_tokens
from chatapp.providers.catalog import ModelInfo

MicroUSD = int
ONE_DOLLAR: MicroUSD = 1_000_000


def from_usd(usd: float) -> MicroUSD:
    """A configured dollar amount (a budget) in micro-USD."""
    return round(usd * ONE_DOLLAR)


def _micro(tokens: int, usd_per_million: float) -> Decimal:
    # Per-million prices make micro-USD simply tokens × price; Decimal keeps 1.1 × 1000 exact.
    return tokens * Decimal(str(usd_per_million))


def is_metered(model: ModelInfo) -> bool:
    """Whether requests to the model draw on allowances (free models, local ones, do not)."""
    return model.input_price > 0 or model.output_price > 0


def estimate_cost(model: ModelInfo, *, prompt_chars: int, max_output_tokens: int) -> int:
    """The worst case: the prompt (≈ chars/3.5 tokens) plus every output token allowed."""
    prompt_tokens = estimate_tokens(prompt_chars)
    total = _micro(prompt_tokens, model.input_price) + _micro(max_output_tokens,
                                                              model.output_price)
    return math.ceil(total)


def actual_cost(model: ModelInfo, usage: Usage) -> int:
    """What the provider reported, reasoning tokens at the output price, rounded up."""
    total = _micro(usage.input_tokens, model.input_price) + _micro(
        usage.output_tokens + usage.reasoning_tokens, model.output_price)
    return math.ceil(total)


def dollars(amount: MicroUSD) -> str:
    """For people: '$0.0123' for small sums (to the tenth of a cent and below), '$12.34' for
    large ones, '$0' for nothing."""
    if amount == 0:
        return "$0"
    if amount >= 100 * ONE_DOLLAR:  # $100 and more: cents are enough
        return f"${amount / ONE_DOLLAR:,.2f}"
    return f"${amount / ONE_DOLLAR:,.4f}".rstrip("0").rstrip(".")


def decimal_usd(amount: MicroUSD) -> str:
    """For files: exact, a plain decimal with 6 places ('0.001234')."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), ONE_DOLLAR)
    return f"{sign}{whole}.{frac:06d}"
