"""Markdown for model output: no raw HTML, highlighted code blocks with a copy button."""

from __future__ import annotations

import reflex as rx


def _code_block(value: object, **props: object) -> rx.Component:
    return rx.code_block(
        value, can_copy=True, wrap_long_lines=True, margin_y="0.75em", class_name="code-block",
        **props,
    )


def markdown(content: rx.Var | str, **props: object) -> rx.Component:
    # use_raw=False: HTML in model output is shown as text, never rendered.
    return rx.markdown(
        content, use_raw=False, component_map={"pre": _code_block}, class_name="md", **props
    )
