"""`/settings/models`: which models the picker shows, pins, the default, stats for nerds.

The body only: the route table puts it in the settings frame."""

from __future__ import annotations

import reflex as rx

from chatapp.components.settings_nav import settings_notice, settings_section
from chatapp.state.models_page import SERVER_DEFAULT, ModelRow, ModelSettingsState


def model_row(row: ModelRow) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=row.enabled,
            on_change=lambda checked: ModelSettingsState.enable_model(row.id, checked),
            aria_label="Show in the picker",
            data_testid="model-enabled",
        ),
        rx.vstack(
            rx.hstack(
                rx.text(row.label, weight="medium", size="2"),
                rx.cond(row.default, rx.badge("Default", color_scheme="blue")),
                align="center", spacing="2",
            ),
            rx.hstack(
                rx.text(row.provider_label, size="1", color_scheme="gray"),
                rx.cond(~row.available,
                        rx.badge(row.reason, color_scheme="gray", variant="surface",
                                 data_testid="model-reason")),
                align="center", spacing="2",
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.tooltip(
            rx.icon_button(
                rx.icon("pin", size=14),
                variant=rx.cond(row.pinned, "solid", "ghost"),
                color_scheme=rx.cond(row.pinned, "blue", "gray"),
                aria_label=rx.cond(row.pinned, "Unpin", "Pin to the top of the picker"),
                aria_pressed=row.pinned,
                on_click=ModelSettingsState.pin_model(row.id, ~row.pinned),
                disabled=~row.enabled,
                data_testid="model-pin",
            ),
            content=rx.cond(row.pinned, "Unpin", "Pin to the top of the picker"),
        ),
        width="100%", align="center", spacing="3",
        class_name=rx.cond(row.enabled, "model-row", "model-row disabled"),
        opacity=rx.cond(row.enabled, "1", "0.6"),
        data_testid="model-row", data_model_id=row.id,
        data_enabled=rx.cond(row.enabled, "true", "false"),
        data_pinned=rx.cond(row.pinned, "true", "false"),
    )


def default_picker() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="320px", data_testid="default-model"),
        rx.select.content(
            rx.select.item("Server default", value=SERVER_DEFAULT),
            rx.foreach(ModelSettingsState.default_choices,
                       lambda r: rx.select.item(r.label + " · " + r.provider_label,
                                                value=r.id)),
        ),
        value=ModelSettingsState.default_model,
        on_change=ModelSettingsState.choose_default,
    )


def body() -> rx.Component:
    return rx.fragment(
        settings_notice(ModelSettingsState.notice, "models-notice"),
        settings_section(
            "Default for new chats",
            rx.text("New chats start with this model when it is available to you.", size="2",
                    color_scheme="gray"),
            default_picker(),
        ),
        settings_section(
            "Stats for nerds",
            rx.hstack(
                rx.switch(checked=ModelSettingsState.stats_for_nerds,
                          on_change=ModelSettingsState.show_stats,
                          data_testid="stats-for-nerds"),
                rx.text("Show speed, tokens and cost under each reply.", size="2"),
                align="center",
            ),
        ),
        settings_section(
            "Models in the picker",
            rx.text("Switch off the models you never use; pinned ones come first.", size="2",
                    color_scheme="gray"),
            rx.vstack(rx.foreach(ModelSettingsState.rows, model_row), width="100%",
                      spacing="3", data_testid="model-list"),
        ),
    )
