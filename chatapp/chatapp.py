"""The Reflex app: pages, stylesheet, scripts and the session middleware."""

from __future__ import annotations

import reflex as rx
from reflex_base.config import get_config

from chatapp.api.auth import build_auth_app
from chatapp.api.security import SecurityMiddleware
from chatapp.api.session import SessionCookieMiddleware
from chatapp.config import get_settings
from chatapp.pages import account, chat, signin
from chatapp.pages import keys as keys_page
from chatapp.pages import models as models_page
from chatapp.pages import usage as usage_page
from chatapp.services import maintenance
from chatapp.state.account import AccountState
from chatapp.state.chat import ChatState
from chatapp.state.guard import SessionGuard
from chatapp.state.keys import KeysState
from chatapp.state.models_page import ModelSettingsState
from chatapp.state.signin import SignInState
from chatapp.state.usage import UsageState

# Settings are checked when the app starts, not at its first request: a server others can
# reach (CHATAPP_PUBLIC_URL, a public CHATAPP_HOST or bind address) needs a real secret.
get_settings().check_listen_address(get_config().backend_host)

app = rx.App(
    stylesheets=["/chat.css"],
    head_components=[
        rx.el.script(src="/chat.js", defer=True),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    ],
    # Sign-in routes match first; the session middleware wraps them and Reflex's app; the
    # security middleware (CSP headers, socket Origin check) wraps everything.
    api_transformer=[build_auth_app(), SessionCookieMiddleware, SecurityMiddleware],
)
# Before Reflex's hydration: a tab whose cookie changed must not be sent the old user's state.
app.add_middleware(SessionGuard(), index=0)
# Ends replies whose writer died (a crash, a lost worker), whoever was watching them.
app.register_lifespan_task(maintenance.run_forever)
app.add_page(chat.index, route="/", title="chatapp", on_load=ChatState.load_page)
app.add_page(
    chat.thread, route="/chat/[thread_id]", title="chatapp", on_load=ChatState.load_page
)
app.add_page(signin.page, route="/signin", title="Sign in · chatapp", on_load=SignInState.load)
app.add_page(
    account.page, route="/settings/account", title="Account · chatapp", on_load=AccountState.load
)
app.add_page(models_page.page, route="/settings/models", title="Models · chatapp",
             on_load=ModelSettingsState.load)
app.add_page(usage_page.page, route="/settings/usage", title="Usage · chatapp",
             on_load=UsageState.load)
app.add_page(keys_page.page, route="/settings/keys", title="API keys · chatapp",
             on_load=KeysState.load)
