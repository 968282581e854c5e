"""The Reflex app: pages, stylesheet, scripts and the session middleware."""

from __future__ import annotations

import reflex as rx

from chatapp.api.session import SessionCookieMiddleware
from chatapp.pages import chat
from chatapp.state.chat import ChatState

app = rx.App(
    stylesheets=["/chat.css"],
    head_components=[
        rx.el.script(src="/chat.js", defer=True),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    ],
    api_transformer=SessionCookieMiddleware,
)
app.add_page(chat.index, route="/", title="chatapp", on_load=ChatState.load_page)
app.add_page(
    chat.thread, route="/chat/[thread_id]", title="chatapp", on_load=ChatState.load_page
)
