"""Markdown for model output: no raw HTML, no remote images, links in a new tab, code blocks."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

# assets/ is copied into the frontend's public/ folder, where Vite bundles it from.
_SAFE_MARKDOWN = "$/public/safe_markdown.js"


class _SafeImage(rx.Component):
    """An image that loads only from this app (or data:/blob:); others become a link."""

    library = _SAFE_MARKDOWN
    tag = "SafeImage"


class _SafeLink(rx.Component):
    """A link that opens in a new tab with rel="noopener noreferrer"."""

    library = _SAFE_MARKDOWN
    tag = "SafeLink"


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


def _plain(tag: str) -> Callable[..., rx.Component]:
    """A Markdown block as the plain HTML element, styled by `.md <tag>` in assets/chat.css:
    Reflex's default map draws each paragraph, list and item as a Radix component with its
    own emotion class, which cost more than the parsing on a page of replies."""
    element = getattr(rx.el, tag)
    return lambda value, **props: element(value, **props)


_PLAIN = {tag: _plain(tag) for tag in ("p", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6")}


def markdown(content: rx.Var | str, **props: object) -> rx.Component:
    # use_raw=False: HTML in model output is shown as text, never rendered. react-markdown's
    # default urlTransform still applies and blanks javascript:, vbscript:, data: and the like.
    return rx.markdown(
        content, use_raw=False, class_name="md",
        # react-markdown passes src/alt/title/href through the `{...props}` spread.
        component_map={**_PLAIN, "pre": _code_block, "img": _SafeImage.create,
                       "a": _SafeLink.create},
        **props,
    )
