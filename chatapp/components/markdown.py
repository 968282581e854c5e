"""Markdown for model output: no raw HTML, highlighted code blocks with a copy button."""

from __future__ import annotations

import reflex as rx


def _copy_button(value: object) -> rx.Component:
    # Quieter than the default solid accent button, and inset from the block's rounded corner.
    return rx.button(
        rx.icon("copy", size=14), type="button", aria_label="Copy code", title="Copy code",
        size="1", variant="ghost", color_scheme="gray", on_click=rx.set_clipboard(value),
        position="absolute", top="0.6em", right="0.6em",
    )


def _code_block(value: object, **props: object) -> rx.Component:
    return rx.code_block(
        value, can_copy=True, copy_button=_copy_button(value), wrap_long_lines=True,
        margin_y="0.75em", class_name="code-block", **props,
    )


def markdown(content: rx.Var | str, **props: object) -> rx.Component:
    # use_raw=False: HTML in model output is shown as text, never rendered.
    return rx.markdown(
        content, use_raw=False, component_map={"pre": _code_block}, class_name="md", **props
    )
