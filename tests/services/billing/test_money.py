"""Money: whole micro-USD priced from the catalog, and how amounts are written."""

from __future__ import annotations

import pytest

from chatapp.providers.base import Usage
from chatapp.providers.catalog import get_model
from chatapp.services.billing import money


def test_costs_are_priced_from_the_catalog_in_micro_usd() -> None:
    mini, o4 = get_model("openai/gpt-4.1-mini"), get_model("openai/o4-mini")
    assert mini is not None and o4 is not None
    # 35 characters ≈ 10 tokens at $0.40/M, plus 1000 output tokens at $1.60/M.
    assert money.estimate_cost(mini, prompt_chars=35, max_output_tokens=1000) == 4 + 1600
    assert money.estimate_cost(mini, prompt_chars=36, max_output_tokens=0) == 5  # rounds up
    usage = Usage(input_tokens=1000, output_tokens=500, reasoning_tokens=250)
    assert money.actual_cost(o4, usage) == 1100 + 3300  # reasoning at the output price
    assert money.actual_cost(o4, Usage(input_tokens=1)) == 2  # $1.10/M: 1.1 µUSD, rounded up
    assert money.actual_cost(mini, Usage(input_tokens=1000)) == 400  # 0.4 × 1000, exactly


def test_only_priced_models_are_metered() -> None:
    assert [money.is_metered(get_model(m)) for m in  # type: ignore[arg-type]
            ("openai/gpt-4.1-mini", "local/smollm2-135m", "ollama/llama3.2")] == [
        True, False, False]


@pytest.mark.parametrize(("amount", "shown"), [
    (0, "$0"), (1, "$0"), (900, "$0.0009"), (12_300, "$0.0123"), (1_500_000, "$1.5"),
    (12_345_678, "$12.3457"), (123_456_789, "$123.46"), (1_234_567_890_000, "$1,234,567.89"),
])
def test_amounts_for_people(amount: int, shown: str) -> None:
    assert money.dollars(amount) == shown


def test_amounts_for_files_are_exact() -> None:
    assert money.decimal_usd(0) == "0.000000"
    assert money.decimal_usd(12_000_001) == "12.000001"
    assert money.decimal_usd(-900) == "-0.000900"
