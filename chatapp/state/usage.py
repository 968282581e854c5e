"""The usage page: spend and tokens per day, breakdowns, recent requests, CSV export."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from chatapp import db
from chatapp.services.billing import money, usage
from chatapp.state.user import reader_or_notice
from chatapp.state.views import when

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


def _breakdown(row: usage.Breakdown) -> BreakdownRow:
    return BreakdownRow(row.label, money.dollars(row.cost_microusd), f"{row.input_tokens:,}",
                        f"{row.output_tokens:,}", row.requests)


def _request(r: usage.RecentRequest) -> RequestRow:
    deleted = r.thread_title is None
    return RequestRow(
        time=when(r.created_at),
        thread_id="" if deleted else (r.thread_id or ""),
        thread_title="(deleted chat)" if deleted else (r.thread_title or ""),
        model=r.model_label,
        input_tokens=f"{r.input_tokens:,}",
        output_tokens=f"{r.output_tokens + r.reasoning_tokens:,}",
        cost=money.dollars(r.cost_microusd),
        duration="" if r.duration_ms is None else f"{r.duration_ms / 1000:.1f} s",
        own_key=r.own_key,
        outcome=r.outcome,
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
        data = await db.run(lambda s: usage.summary(s, user_id=user_id, days=DAYS,
                                                    latest=RECENT))
        self.days = [dataclasses.asdict(DayPoint(
            d.date.strftime("%m-%d"), d.cost_microusd / money.ONE_DOLLAR, d.input_tokens,
            d.output_tokens)) for d in data.days]
        self.models = [_breakdown(b) for b in data.models]
        self.providers = [_breakdown(b) for b in data.providers]
        self.recent = [_request(r) for r in data.recent]
        self.total_cost = money.dollars(sum(d.cost_microusd for d in data.days))
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
