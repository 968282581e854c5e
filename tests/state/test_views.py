"""What a stored message looks like on the wire: Retry only where it can help, the stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatapp.errors import (
    ContextLengthError,
    OwnKeyUnavailableError,
    ProviderAuthError,
    ProviderRateLimitError,
    ProviderUnavailableError,
)
from chatapp.models import Message, MessageStatus
from chatapp.state.views import message_view, reply_stats, when


def _reply(status: MessageStatus, error_code: str | None = None, **values: object) -> Message:
    return Message(thread_id="t", parent_id="p", role="assistant", status=status,
                   error_code=error_code, error="It failed." if error_code else None,
                   model="openai/gpt-4.1-mini", **values)


@pytest.mark.parametrize(("status", "code", "offered"), [
    (MessageStatus.ERROR, ProviderRateLimitError.__name__, True),
    (MessageStatus.ERROR, ProviderUnavailableError.__name__, True),
    (MessageStatus.ERROR, ProviderAuthError.__name__, False),  # the key must be fixed first
    (MessageStatus.ERROR, ContextLengthError.__name__, False),  # the same chat fails again
    (MessageStatus.ERROR, OwnKeyUnavailableError.__name__, False),
    (MessageStatus.ERROR, "SomethingFromAnOlderVersion", True),
    (MessageStatus.CANCELLED, None, True),  # Regenerate after Stop
    (MessageStatus.INTERRUPTED, "Interrupted", True),
    (MessageStatus.COMPLETE, None, False),
    (MessageStatus.STREAMING, None, False),
])
def test_retry_is_offered_only_where_retrying_can_help(
    status: MessageStatus, code: str | None, offered: bool
) -> None:
    view = message_view(_reply(status, code))
    assert view.can_retry is offered
    assert view.active is (status in (MessageStatus.PENDING, MessageStatus.STREAMING))


def test_the_stats_under_a_reply_price_it_as_the_usage_page_does() -> None:
    msg = _reply(MessageStatus.COMPLETE, input_tokens=1200, output_tokens=500,
                 first_token_ms=400, duration_ms=2400)
    # 1200 × $0.40/M + 500 × $1.60/M = 480 + 800 micro-USD.
    assert reply_stats(msg) == ("250 tok/s · 0.40 s to first token · 1,200 in / 500 out tokens"
                                " · $0.0013")


def test_times_are_written_one_way_in_utc() -> None:
    moment = datetime(2026, 12, 1, 23, 4, tzinfo=UTC)
    assert when(moment) == "2026-12-01 23:04 UTC"
    assert when(moment.astimezone(timezone(timedelta(hours=2)))) == "2026-12-01 23:04 UTC"
    assert when(None) == ""
