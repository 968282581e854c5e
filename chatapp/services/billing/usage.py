"""Usage records: one row per provider request, and the sums the usage page shows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from chatapp.errors import ValidationError
from chatapp.models import MessageStatus, Thread, UsageRecord
from chatapp.models.base import utcnow
from chatapp.providers.catalog import PROVIDERS, get_model
from chatapp.services.billing import money

# How a request ended: a reply's final status (a title's is complete or error).
OUTCOMES = tuple(s.value for s in MessageStatus if not s.is_active)
CSV_HEADER = (
    "time", "thread_id", "thread_title", "provider", "model", "input_tokens", "output_tokens",
    "reasoning_tokens", "cached_tokens", "cost_usd", "own_key", "first_token_ms", "duration_ms",
    "outcome",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_OUTPUT = sa.func.sum(col(UsageRecord.output_tokens) + col(UsageRecord.reasoning_tokens))


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One UTC day's totals; output counts reasoning tokens too (both bill as output)."""

    date: date
    cost_microusd: int
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Totals for one model or one provider; `key` is its id, `label` its display name;
    output counts reasoning tokens too."""

    key: str
    label: str
    cost_microusd: int
    input_tokens: int
    output_tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class RecentRequest:
    """One request as the usage table shows it. `thread_title` is None once it is deleted."""

    id: str
    created_at: datetime
    thread_id: str | None
    thread_title: str | None
    provider: str
    model: str
    model_label: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cost_microusd: int
    own_key: bool
    first_token_ms: int | None
    duration_ms: int | None
    outcome: str


def record(
    session: Session,
    *,
    user_id: str,
    thread_id: str | None,
    message_id: str | None,
    provider: str,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
    cost_microusd: int = 0,
    own_key: bool = False,
    first_token_ms: int | None = None,
    duration_ms: int | None = None,
    outcome: str = "complete",
    created_at: datetime | None = None,
) -> UsageRecord:
    """Store one request's usage (added and flushed; the caller's transaction commits).

    `model` is chatapp's model id ('<provider>/<api_model>'), `provider` the provider id.
    """
    if outcome not in OUTCOMES:
        raise ValidationError(f"unknown outcome {outcome!r}")
    counts = (input_tokens, output_tokens, reasoning_tokens, cached_tokens, cost_microusd)
    if min(counts) < 0:
        raise ValidationError("usage counts cannot be negative")
    row = UsageRecord(
        user_id=user_id, thread_id=thread_id, message_id=message_id, provider=provider,
        model=model, input_tokens=input_tokens, output_tokens=output_tokens,
        reasoning_tokens=reasoning_tokens, cached_tokens=cached_tokens,
        cost_microusd=cost_microusd, own_key=own_key, first_token_ms=first_token_ms,
        duration_ms=duration_ms, outcome=outcome, created_at=created_at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _window(days: int, today: date | None) -> tuple[date, datetime, datetime]:
    """The first day and the [start, end) instants of the last `days` UTC days to `today`."""
    if days < 1:
        raise ValidationError("days must be at least 1")
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return first, start, start + timedelta(days=days)


def _day_column(session: Session) -> sa.ColumnElement[Any]:
    """created_at's UTC calendar day, computed by the database."""
    created = col(UsageRecord.created_at)
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", created), sa.Date)
    return sa.func.date(created)  # SQLite stores UTC text: "YYYY-MM-DD HH:MM:SS..."


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _mine(user_id: str, start: datetime, end: datetime) -> list[sa.ColumnElement[bool]]:
    return [col(UsageRecord.user_id) == user_id, col(UsageRecord.created_at) >= start,
            col(UsageRecord.created_at) < end]


def daily(
    session: Session, *, user_id: str, days: int = 30, today: date | None = None
) -> list[DayUsage]:
    """One entry per UTC day, oldest first, ending `today` (default: today in UTC); days
    without requests are zeros."""
    first, start, end = _window(days, today)
    day = _day_column(session).label("day")
    rows = session.exec(  # type: ignore[call-overload]
        sa.select(day, sa.func.sum(UsageRecord.cost_microusd),
                  sa.func.sum(UsageRecord.input_tokens), _OUTPUT)
        .where(*_mine(user_id, start, end))
        .group_by(day)
    ).all()
    found = {_as_date(d): (int(c or 0), int(i or 0), int(o or 0)) for d, c, i, o in rows}
    out = []
    for n in range(days):
        current = first + timedelta(days=n)
        cost, inp, outp = found.get(current, (0, 0, 0))
        out.append(DayUsage(current, cost, inp, outp))
    return out


def _grouped(
    session: Session, column: Any, *, user_id: str, days: int, today: date | None
) -> list[tuple[str, int, int, int, int]]:
    _, start, end = _window(days, today)
    rows = session.exec(  # type: ignore[call-overload]
        sa.select(column, sa.func.sum(UsageRecord.cost_microusd),
                  sa.func.sum(UsageRecord.input_tokens), _OUTPUT, sa.func.count())
        .where(*_mine(user_id, start, end))
        .group_by(column)
    ).all()
    totals = [(str(k), int(c or 0), int(i or 0), int(o or 0), int(n)) for k, c, i, o, n in rows]
    return sorted(totals, key=lambda t: (-t[1], -t[4], t[0]))


def by_model(
    session: Session, *, user_id: str, days: int = 30, today: date | None = None
) -> list[Breakdown]:
    """Totals per model over the last `days` UTC days, most expensive first."""
    return [Breakdown(k, _model_label(k), c, i, o, n)
            for k, c, i, o, n in _grouped(session, col(UsageRecord.model), user_id=user_id,
                                          days=days, today=today)]


def by_provider(
    session: Session, *, user_id: str, days: int = 30, today: date | None = None
) -> list[Breakdown]:
    """Totals per provider over the last `days` UTC days, most expensive first."""
    return [Breakdown(k, _provider_label(k), c, i, o, n)
            for k, c, i, o, n in _grouped(session, col(UsageRecord.provider), user_id=user_id,
                                          days=days, today=today)]


def _model_label(model_id: str) -> str:
    model = get_model(model_id)
    return model.label if model else model_id


def _provider_label(provider_id: str) -> str:
    preset = PROVIDERS.get(provider_id)
    return preset.label if preset else provider_id


def _records_with_titles(user_id: str) -> sa.Select[Any]:
    # The join also checks the thread's owner, so a stray id can never show another's title;
    # a deleted thread (even in its undo window) shows none.
    return (
        sa.select(UsageRecord, col(Thread.title))
        .outerjoin(Thread, sa.and_(col(Thread.id) == col(UsageRecord.thread_id),
                                   col(Thread.user_id) == user_id,
                                   col(Thread.deleted_at).is_(None)))
        .where(col(UsageRecord.user_id) == user_id)
        .order_by(col(UsageRecord.created_at).desc(), col(UsageRecord.id).desc())
    )


def _recent_request(row: UsageRecord, title: str | None) -> RecentRequest:
    return RecentRequest(
        row.id, row.created_at, row.thread_id, title, row.provider, row.model,
        _model_label(row.model), row.input_tokens, row.output_tokens, row.reasoning_tokens,
        row.cached_tokens, row.cost_microusd, row.own_key, row.first_token_ms, row.duration_ms,
        row.outcome,
    )


def recent(session: Session, *, user_id: str, limit: int = 50) -> list[RecentRequest]:
    """The user's latest requests, newest first, with the title of their thread."""
    limit = max(1, min(limit, 1000))
    rows = session.exec(_records_with_titles(user_id).limit(limit)).all()  # type: ignore[call-overload]
    return [_recent_request(r, t) for r, t in rows]


def _all_requests(session: Session, user_id: str) -> Iterator[RecentRequest]:
    result = session.exec(  # type: ignore[call-overload]
        _records_with_titles(user_id).execution_options(yield_per=500)
    )
    for r, t in result:
        yield _recent_request(r, t)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the usage page shows: per day, per model, per provider, and the latest requests."""

    days: list[DayUsage]
    models: list[Breakdown]
    providers: list[Breakdown]
    recent: list[RecentRequest]


def summary(session: Session, *, user_id: str, days: int, latest: int) -> Summary:
    return Summary(
        daily(session, user_id=user_id, days=days),
        by_model(session, user_id=user_id, days=days),
        by_provider(session, user_id=user_id, days=days),
        recent(session, user_id=user_id, limit=latest),
    )


def safe_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading formula character gets a quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_export(session: Session, *, user_id: str) -> str:
    """Every request of the user's, newest first, as CSV text with a header row.

    Times are ISO 8601 in UTC; cost is USD with 6 decimals; text cells are guarded against
    formula injection (titles are user text, and random ids may start with '-').
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in _all_requests(session, user_id):
        writer.writerow((
            r.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            safe_cell(r.thread_id or ""), safe_cell(r.thread_title or ""), safe_cell(r.provider),
            safe_cell(r.model), r.input_tokens, r.output_tokens, r.reasoning_tokens,
            r.cached_tokens, money.decimal_usd(r.cost_microusd), "yes" if r.own_key else "no",
            "" if r.first_token_ms is None else r.first_token_ms,
            "" if r.duration_ms is None else r.duration_ms, r.outcome,
        ))
    return out.getvalue()
