"""Markdown for model output: no raw HTML, no remote images, links in a new tab, code blocks.

Drawn by assets/markdown.js (react-markdown with the plugins Reflex's own markdown uses), for
stored messages and, block by block, for the reply that is streaming: the two look the same,
so nothing moves when a finished reply takes the live one's place.
"""

from __future__ import annotations

import reflex as rx

# assets/ is copied into the frontend's public/ folder, where Vite bundles it from.
_MODULE = "$/public/markdown.js"
# What assets/markdown.js imports (the versions Reflex 0.10's rx.markdown pins).
_PACKAGES = ["react-markdown@10.1.0", "remark-math@6.0.0", "remark-gfm@4.0.1",
             "rehype-katex@7.0.1", "rehype-unwrap-images@1.0.0",
             "react-syntax-highlighter@16.1.2"]


class _ChatMarkdown(rx.Component):
    library = _MODULE
    tag = "ChatMarkdown"
    lib_dependencies: list[str] = _PACKAGES
    text: rx.Var[str]


class _LiveReply(rx.Component):
    """The reply streaming now, read from its feed (/api/live/<message_id>)."""

    library = _MODULE
    tag = "LiveReply"
    lib_dependencies: list[str] = _PACKAGES
    message_id: rx.Var[str]


def markdown(content: rx.Var | str, **props: object) -> rx.Component:
    return _ChatMarkdown.create(text=content, **props)


def live_markdown(message_id: rx.Var | str) -> rx.Component:
    # Keyed by the reply: another reply is a new component, which opens its own feed.
    return _LiveReply.create(message_id=message_id, key=message_id)
