"""Usage records on SQLite and PostgreSQL: daily sums, breakdowns, recent requests, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from chatapp.errors import ValidationError
from chatapp.models import Thread, UsageRecord
from chatapp.services.billing import usage
from chatapp.services.chat import threads
from tests.services.helpers import LOCAL, count

TODAY = date(2025, 3, 10)
MINI, SONNET = "openai/gpt-4.1-mini", "anthropic/claude-sonnet-4-5"
FLASH = "google/gemini-2.5-flash"


def at(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def add(session: Session, user_id: str, model: str, when: datetime, *, cost: int,
        tokens_in: int = 0, tokens_out: int = 0, reasoning: int = 0,
        thread_id: str | None = None, own_key: bool = False, outcome: str = "complete",
        duration_ms: int | None = 1200) -> UsageRecord:
    row = usage.record(
        session, user_id=user_id, thread_id=thread_id, message_id=None,
        provider=model.split("/", 1)[0], model=model, input_tokens=tokens_in,
        output_tokens=tokens_out, reasoning_tokens=reasoning, cost_microusd=cost,
        own_key=own_key, first_token_ms=300, duration_ms=duration_ms, outcome=outcome,
        created_at=when,
    )
    session.commit()
    return row


def thread(session: Session, user_id: str, title: str) -> str:
    t = Thread(user_id=user_id, title=title, model_id=LOCAL)
    session.add(t)
    session.commit()
    return t.id


@pytest.fixture
def known(session: Session, user_id: str, other_user_id: str) -> None:
    """Three days with requests in the window, one just outside it, and another user's."""
    add(session, user_id, MINI, at(0, 0, 0), cost=1_000, tokens_in=100, tokens_out=10)
    add(session, user_id, MINI, at(0, 23, 59), cost=2_000, tokens_in=200, tokens_out=20)
    add(session, user_id, SONNET, at(0, 9), cost=50_000, tokens_in=1_000, tokens_out=300,
        reasoning=200)
    add(session, user_id, FLASH, at(3), cost=7_000, tokens_in=400, tokens_out=40)
    add(session, user_id, SONNET, at(29, 0, 0), cost=9_000, tokens_in=90, tokens_out=9)
    add(session, user_id, MINI, at(30, 23, 59), cost=123_456, tokens_in=5, tokens_out=5)
    add(session, other_user_id, MINI, at(0), cost=999_999, tokens_in=7_777, tokens_out=7_777)
    add(session, other_user_id, "groq/llama-3.3-70b-versatile", at(1), cost=5, tokens_in=1)


def test_record_stores_a_row_and_refuses_nonsense(session: Session, user_id: str) -> None:
    row = add(session, user_id, MINI, at(0), cost=10, tokens_in=1, tokens_out=2)
    stored = session.get(UsageRecord, row.id)
    assert stored is not None
    assert (stored.model, stored.provider, stored.cost_microusd, stored.own_key) == (
        MINI, "openai", 10, False)
    with pytest.raises(ValidationError):
        add(session, user_id, MINI, at(0), cost=1, outcome="exploded")
    with pytest.raises(ValidationError):
        add(session, user_id, MINI, at(0), cost=-5)
    session.rollback()
    assert count(session, UsageRecord) == 1


def test_daily_sums_per_utc_day_fill_zero_days_and_skip_other_users(
    session: Session, user_id: str, known: None
) -> None:
    days = usage.daily(session, user_id=user_id, days=30, today=TODAY)
    assert len(days) == 30
    assert (days[0].date, days[-1].date) == (TODAY - timedelta(days=29), TODAY)
    by_date = {d.date: d for d in days}
    # 00:00 and 23:59 fall on the same UTC day; reasoning tokens count as output.
    assert by_date[TODAY] == usage.DayUsage(TODAY, 53_000, 1_300, 530)
    assert by_date[TODAY - timedelta(days=3)] == usage.DayUsage(TODAY - timedelta(days=3),
                                                                 7_000, 400, 40)
    assert by_date[TODAY - timedelta(days=29)].cost_microusd == 9_000
    quiet = [d for d in days if d.date not in {TODAY, TODAY - timedelta(days=3),
                                               TODAY - timedelta(days=29)}]
    assert len(quiet) == 27
    assert all((d.cost_microusd, d.input_tokens, d.output_tokens) == (0, 0, 0) for d in quiet)
    week = usage.daily(session, user_id=user_id, days=7, today=TODAY)
    assert sum(d.cost_microusd for d in week) == 60_000


def test_a_user_without_records_gets_thirty_zero_days(session: Session, user_id: str) -> None:
    days = usage.daily(session, user_id=user_id)
    assert len(days) == 30 and not any(d.cost_microusd for d in days)
    assert days[-1].date == datetime.now(UTC).date()
    assert usage.by_model(session, user_id=user_id) == []
    assert usage.recent(session, user_id=user_id) == []


def test_breakdowns_by_model_and_provider(session: Session, user_id: str, known: None) -> None:
    models = usage.by_model(session, user_id=user_id, days=30, today=TODAY)
    assert [(m.key, m.label, m.cost_microusd, m.input_tokens, m.output_tokens, m.requests)
            for m in models] == [
        (SONNET, "Claude Sonnet 4.5", 59_000, 1_090, 509, 2),
        (FLASH, "Gemini 2.5 Flash", 7_000, 400, 40, 1),
        (MINI, "GPT-4.1 mini", 3_000, 300, 30, 2),  # the 30-days-ago one is outside
    ]
    providers = usage.by_provider(session, user_id=user_id, days=30, today=TODAY)
    assert [(p.key, p.label, p.cost_microusd, p.requests) for p in providers] == [
        ("anthropic", "Anthropic", 59_000, 2),
        ("google", "Google Gemini", 7_000, 1),
        ("openai", "OpenAI", 3_000, 2),
    ]


def test_recent_is_newest_first_with_titles_and_none_for_deleted_threads(
    session: Session, user_id: str, other_user_id: str
) -> None:
    kept = thread(session, user_id, "Kept chat")
    gone = thread(session, user_id, "Gone chat")
    theirs = thread(session, other_user_id, "Someone else's chat")
    add(session, user_id, MINI, at(2), cost=1, thread_id=kept)
    add(session, user_id, MINI, at(1), cost=2, thread_id=gone, own_key=True)
    add(session, user_id, MINI, at(0), cost=3, thread_id=theirs, outcome="error")
    add(session, other_user_id, MINI, at(0, 13), cost=4, thread_id=theirs)
    threads.delete_thread(session, user_id=user_id, thread_id=gone)
    session.commit()

    rows = usage.recent(session, user_id=user_id)
    assert [(r.cost_microusd, r.thread_title, r.own_key, r.outcome) for r in rows] == [
        (3, None, False, "error"),  # a thread id that is not theirs shows no title
        (2, None, True, "complete"),
        (1, "Kept chat", False, "complete"),
    ]
    assert rows[0].model_label == "GPT-4.1 mini"
    assert [r.cost_microusd for r in usage.recent(session, user_id=user_id, limit=2)] == [3, 2]


def test_csv_export_has_every_record_of_the_user_and_only_theirs(
    session: Session, user_id: str, known: None
) -> None:
    chat = thread(session, user_id, "Budget talk")
    add(session, user_id, MINI, at(0, 23, 59) + timedelta(seconds=30), cost=1_234_567,
        tokens_in=11, tokens_out=22, thread_id=chat, own_key=True, duration_ms=None)
    rows = list(csv.reader(io.StringIO(usage.csv_export(session, user_id=user_id))))
    assert rows[0] == list(usage.CSV_HEADER)
    assert len(rows) == 1 + 7  # all six known records (even the old one) and this one
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["time"] == "2025-03-10T23:59:30+00:00"
    assert (first["thread_title"], first["model"], first["provider"]) == (
        "Budget talk", MINI, "openai")
    assert (first["input_tokens"], first["output_tokens"], first["cost_usd"]) == (
        "11", "22", "1.234567")
    assert (first["own_key"], first["duration_ms"], first["outcome"]) == ("yes", "", "complete")
    costs = sorted(r[rows[0].index("cost_usd")] for r in rows[1:])
    assert "0.123456" in costs and "0.001000" in costs
    assert "0.999999" not in costs and "7777" not in {c for r in rows for c in r}


@pytest.mark.parametrize("title", ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)"])
def test_csv_export_defuses_formulas_in_thread_titles(
    session: Session, user_id: str, title: str
) -> None:
    chat = thread(session, user_id, title)
    add(session, user_id, MINI, at(0), cost=1, thread_id=chat)
    rows = list(csv.reader(io.StringIO(usage.csv_export(session, user_id=user_id))))
    cell = rows[1][rows[0].index("thread_title")]
    assert cell == "'" + title
    assert usage.safe_cell("Plain title") == "Plain title"
    assert usage.safe_cell("-id-that-starts-with-a-dash") == "'-id-that-starts-with-a-dash"


def test_window_must_have_a_day(session: Session, user_id: str) -> None:
    with pytest.raises(ValidationError):
        usage.daily(session, user_id=user_id, days=0)
