"""The usage page: spend and tokens per day, breakdowns, recent requests, CSV export."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel import Session

from chatapp import db
from chatapp.services.billing import usage
from chatapp.state.user import reader_or_notice

DAYS = 30
RECENT = 50
CSV_FILENAME = "chatapp-usage.csv"


@dataclasses.dataclass
class DayPoint:
    day: str = ""  # "11-03"
    cost: float = 0.0  # USD, for the chart's scale
    input_tokens: int = 0
    output_tokens: int = 0


@dataclasses.dataclass
class BreakdownRow:
    label: str = ""
    cost: str = ""
    input_tokens: str = ""
    output_tokens: str = ""
    requests: int = 0


@dataclasses.dataclass
class RequestRow:
    time: str = ""
    thread_id: str = ""  # the user's own thread, for the link; "" once deleted
    thread_title: str = ""
    model: str = ""
    input_tokens: str = ""
    output_tokens: str = ""
    cost: str = ""
    duration: str = ""
    own_key: bool = False
    outcome: str = ""


def dollars(cost_microusd: int) -> str:
    """'$0.0123' for small sums (to the tenth of a cent and below), '$12.34' for large."""
    if cost_microusd == 0:
        return "$0"
    if cost_microusd >= 100_000_000:  # $100 and more: cents are enough
        return f"${cost_microusd / 1_000_000:,.2f}"
    return f"${cost_microusd / 1_000_000:,.4f}".rstrip("0").rstrip(".")


def _breakdown(row: usage.Breakdown) -> BreakdownRow:
    return BreakdownRow(row.label, dollars(row.cost_microusd), f"{row.input_tokens:,}",
                        f"{row.output_tokens:,}", row.requests)


def _request(r: usage.RecentRequest) -> RequestRow:
    deleted = r.thread_title is None
    return RequestRow(
        time=r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        thread_id="" if deleted else (r.thread_id or ""),
        thread_title="(deleted chat)" if deleted else (r.thread_title or ""),
        model=r.model_label,
        input_tokens=f"{r.input_tokens:,}",
        output_tokens=f"{r.output_tokens + r.reasoning_tokens:,}",
        cost=dollars(r.cost_microusd),
        duration="" if r.duration_ms is None else f"{r.duration_ms / 1000:.1f} s",
        own_key=r.own_key,
        outcome=r.outcome,
    )


@dataclasses.dataclass(frozen=True)
class _Loaded:
    days: list[usage.DayUsage]
    models: list[usage.Breakdown]
    providers: list[usage.Breakdown]
    recent: list[usage.RecentRequest]


def _load(session: Session, user_id: str) -> _Loaded:
    return _Loaded(
        usage.daily(session, user_id=user_id, days=DAYS),
        usage.by_model(session, user_id=user_id, days=DAYS),
        usage.by_provider(session, user_id=user_id, days=DAYS),
        usage.recent(session, user_id=user_id, limit=RECENT),
    )


class UsageState(rx.State):
    loaded: bool = False
    notice: str = ""
    days: list[dict[str, Any]] = []  # DayPoint as dicts: recharts' data type
    models: list[BreakdownRow] = []
    providers: list[BreakdownRow] = []
    recent: list[RequestRow] = []
    total_cost: str = "$0"
    total_requests: int = 0
    total_tokens: str = "0"

    @rx.event
    async def load(self) -> None:
        """on_load of `/settings/usage`: the last 30 days of the user's own requests."""
        self.notice = ""
        user_id = await reader_or_notice(self)
        if user_id is None:
            return
        data = await db.run(_load, user_id)
        self.days = [dataclasses.asdict(DayPoint(d.date.strftime("%m-%d"),
                                                  d.cost_microusd / 1_000_000, d.input_tokens,
                                                  d.output_tokens)) for d in data.days]
        self.models = [_breakdown(b) for b in data.models]
        self.providers = [_breakdown(b) for b in data.providers]
        self.recent = [_request(r) for r in data.recent]
        self.total_cost = dollars(sum(d.cost_microusd for d in data.days))
        self.total_requests = sum(b.requests for b in data.providers)
        self.total_tokens = f"{sum(d.input_tokens + d.output_tokens for d in data.days):,}"
        self.loaded = True

    @rx.event
    async def export_csv(self):
        """Every request of the user's as a CSV download."""
        user_id = await reader_or_notice(self)
        if user_id is None:
            return None
        text = await db.run(lambda s: usage.csv_export(s, user_id=user_id))
        return rx.download(data=text, filename=CSV_FILENAME, mime_type="text/csv")
