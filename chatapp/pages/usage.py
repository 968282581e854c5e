"""`/settings/usage`: spend and tokens per day, by model and provider, recent requests, CSV.

The body only: the route table puts it in the settings frame."""

from __future__ import annotations

import reflex as rx

from chatapp.components.settings_nav import settings_notice, settings_section
from chatapp.state.usage import BreakdownRow, RequestRow, UsageState


def cost_chart() -> rx.Component:
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="day", font_size=11),
            rx.recharts.y_axis(font_size=11, width=60),
            rx.recharts.graphing_tooltip(),
            rx.recharts.bar(data_key="cost", name="Cost (USD)", fill="var(--accent-9)",
                            is_animation_active=False),
            data=UsageState.days, width="100%", height=220,
        ),
        width="100%", data_testid="cost-chart",
    )


def tokens_chart() -> rx.Component:
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="day", font_size=11),
            rx.recharts.y_axis(font_size=11, width=60),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            rx.recharts.bar(data_key="input_tokens", name="Input", stack_id="tokens",
                            fill="var(--accent-8)", is_animation_active=False),
            rx.recharts.bar(data_key="output_tokens", name="Output", stack_id="tokens",
                            fill="var(--accent-11)", is_animation_active=False),
            data=UsageState.days, width="100%", height=240,
        ),
        width="100%", data_testid="tokens-chart",
    )


def totals() -> rx.Component:
    def stat(label: str, value: rx.Var) -> rx.Component:
        return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                         rx.text(value, size="5", weight="bold"), spacing="0")

    return rx.flex(
        stat("Spent, last 30 days", UsageState.total_cost),
        stat("Requests", UsageState.total_requests),
        stat("Tokens", UsageState.total_tokens),
        spacing="6", wrap="wrap", data_testid="usage-totals",
    )


def breakdown_table(rows: rx.Var[list[BreakdownRow]], heading: str, testid: str
                    ) -> rx.Component:
    def row(item: BreakdownRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(item.label),
            rx.table.cell(item.requests),
            rx.table.cell(item.input_tokens),
            rx.table.cell(item.output_tokens),
            rx.table.cell(item.cost),
            data_testid=f"{testid}-row",
        )

    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(heading), rx.table.column_header_cell("Requests"),
                rx.table.column_header_cell("Tokens in"),
                rx.table.column_header_cell("Tokens out"), rx.table.column_header_cell("Cost"),
            )),
            rx.table.body(rx.foreach(rows, row)),
            size="1", width="100%", data_testid=testid,
        ),
        width="100%", overflow_x="auto",
    )


def request_row(item: RequestRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.time, white_space="nowrap"),
        rx.table.cell(rx.cond(
            item.thread_id != "",
            rx.link(item.thread_title, href="/chat/" + item.thread_id),
            rx.text(item.thread_title, color_scheme="gray"),
        )),
        rx.table.cell(item.model),
        rx.table.cell(item.input_tokens),
        rx.table.cell(item.output_tokens),
        rx.table.cell(item.cost),
        rx.table.cell(item.duration),
        rx.table.cell(rx.cond(item.own_key, rx.badge("Own key", color_scheme="green"),
                              rx.text("Server", size="1", color_scheme="gray"))),
        rx.table.cell(rx.cond(item.outcome != "complete",
                              rx.badge(item.outcome, color_scheme="orange"))),
        data_testid="usage-request-row",
    )


def recent_table() -> rx.Component:
    headers = ("Time", "Chat", "Model", "In", "Out", "Cost", "Duration", "Key", "")
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(UsageState.recent, request_row)),
        size="1", width="100%", data_testid="usage-requests",
    )


def body() -> rx.Component:
    return rx.fragment(
        settings_notice(UsageState.notice, "usage-notice"),
        rx.flex(
            totals(), rx.spacer(),
            rx.button(rx.icon("download", size=14), "Export CSV", variant="soft",
                      on_click=UsageState.export_csv, data_testid="export-csv"),
            align="end", spacing="4", wrap="wrap", width="100%",
        ),
        settings_section("Spend per day (USD, UTC days)", cost_chart()),
        settings_section("Tokens per day", tokens_chart()),
        settings_section("By model",
                         breakdown_table(UsageState.models, "Model", "usage-by-model")),
        settings_section("By provider",
                         breakdown_table(UsageState.providers, "Provider", "usage-by-provider")),
        settings_section(
            "Recent requests",
            rx.cond(UsageState.recent.length() == 0,
                    rx.text("No requests yet.", size="2", color_scheme="gray",
                            data_testid="usage-empty"),
                    rx.box(recent_table(), width="100%", overflow_x="auto")),
        ),
    )
