"""The usage and models settings pages in Chromium, for a signed-in user.

Recording usage from real chats is wired by the generation service; until then these tests
insert the user's usage records straight into the running app's database.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, select

from chatapp.db import make_engine
from chatapp.models import Thread, User
from chatapp.services.billing import money, usage
from tests.e2e.conftest import RunningApp
from tests.e2e.test_auth import person, sign_in_with_sso
from tests.e2e.ui import open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# (model, days ago, tokens in, tokens out, cost in micro-USD, own key)
RECORDS = [
    ("openai/gpt-4.1-mini", 0, 1_200, 340, 1_024, False),
    ("anthropic/claude-haiku-4-5", 1, 800, 2_000, 10_800, True),
    ("openai/gpt-4.1", 3, 5_000, 1_000, 18_000, False),
]


def signed_in_page(new_context, oidc, name: str) -> tuple[Page, str]:
    sub, email = person()
    oidc.set_user(sub, email=email, name=name)
    page = new_context(accept_downloads=True).new_page()
    open_chat(page)
    sign_in_with_sso(page, oidc, sub)
    expect(page.get_by_test_id("account-link")).to_contain_text(name)
    return page, email


def insert_usage(app: RunningApp, email: str, title: str) -> None:
    """The signed-in user's requests, as the generation service would record them."""
    engine = make_engine(app.database_url)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        thread = Thread(user_id=user.id, title=title, model_id=RECORDS[0][0])
        s.add(thread)
        s.flush()
        for model, days_ago, tokens_in, tokens_out, cost, own_key in RECORDS:
            usage.record(s, user_id=user.id, thread_id=thread.id, message_id=None,
                         provider=model.split("/")[0], model=model, input_tokens=tokens_in,
                         output_tokens=tokens_out, cost_microusd=cost, own_key=own_key,
                         first_token_ms=250, duration_ms=2_400,
                         created_at=now - timedelta(days=days_ago))
        s.commit()
    engine.dispose()


def test_usage_page_charts_tables_and_csv_export(new_context, oidc, app: RunningApp) -> None:
    page, email = signed_in_page(new_context, oidc, "Usage Watcher")
    title = f"Spending chat {email.split('@')[0]}"
    insert_usage(app, email, title)

    page.goto("/settings/usage")
    rows = page.get_by_test_id("usage-request-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(title)
    expect(rows.first).to_contain_text("GPT-4.1 mini")
    expect(rows.nth(1)).to_contain_text("Own key")
    expect(page.get_by_test_id("usage-totals")).to_contain_text("$0.0298")
    for chart in ("cost-chart", "tokens-chart"):
        expect(page.get_by_test_id(chart).locator("svg.recharts-surface").first).to_be_visible()
    # One bar per day with spend: three in the cost chart (zero days draw nothing).
    expect(page.get_by_test_id("cost-chart").locator(".recharts-bar-rectangle path")) \
        .to_have_count(3)
    expect(page.get_by_test_id("usage-by-model-row")).to_have_count(3)
    expect(page.get_by_test_id("usage-by-provider-row")).to_have_count(2)
    expect(page.get_by_test_id("usage-by-provider-row").first).to_contain_text("OpenAI")

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename == "chatapp-usage.csv"
    with open(download.path(), encoding="utf-8") as f:
        lines = list(csv.DictReader(io.StringIO(f.read())))
    assert [(r["model"], r["cost_usd"], r["own_key"], r["thread_title"]) for r in lines] == [
        (model, money.decimal_usd(cost), "yes" if own else "no", title)
        for model, _, _, _, cost, own in RECORDS
    ]


def switch_of(row: Locator) -> Locator:
    return row.get_by_test_id("model-enabled")


def test_models_page_disables_pins_sets_the_default_and_stats_for_nerds(
    new_context, oidc
) -> None:
    page, _ = signed_in_page(new_context, oidc, "Model Picker")
    page.goto("/settings/models")
    gpt41 = page.locator('[data-testid=model-row][data-model-id="openai/gpt-4.1"]')
    expect(gpt41).to_have_attribute("data-enabled", "true")
    sonnet = page.locator('[data-testid=model-row][data-model-id="anthropic/claude-sonnet-4-5"]')
    expect(sonnet.get_by_test_id("model-reason")).to_have_text("Add an Anthropic key")

    switch_of(gpt41).click()
    expect(gpt41).to_have_attribute("data-enabled", "false")
    mini = page.locator('[data-testid=model-row][data-model-id="openai/gpt-4.1-mini"]')
    mini.get_by_test_id("model-pin").click()
    expect(mini).to_have_attribute("data-pinned", "true")

    page.get_by_test_id("default-model").click()
    expect(page.get_by_role("option", name="GPT-4.1 · OpenAI")).to_have_count(0)  # disabled
    page.get_by_role("option", name="GPT-4.1 mini · OpenAI").click()
    expect(mini).to_contain_text("Default")

    stats = page.get_by_test_id("stats-for-nerds")
    expect(stats).to_have_attribute("aria-checked", "false")
    stats.click()
    expect(stats).to_have_attribute("aria-checked", "true")

    page.reload()
    expect(gpt41).to_have_attribute("data-enabled", "false")
    expect(mini).to_have_attribute("data-pinned", "true")
    expect(page.get_by_test_id("default-model")).to_contain_text("GPT-4.1 mini")
    expect(page.get_by_test_id("stats-for-nerds")).to_have_attribute("aria-checked", "true")

    # The settings navigation reaches the other pages.
    page.get_by_test_id("settings-nav-usage").click()
    expect(page.get_by_test_id("usage-empty")).to_be_visible()
