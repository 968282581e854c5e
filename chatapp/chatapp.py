"""The Reflex app: pages, stylesheet, scripts and the session middleware."""

from __future__ import annotations

import reflex as rx
import reflex.model  # noqa: F401  (Reflex imports it in the first form event: now, not then)
from reflex_base.config import get_config

from chatapp.api.auth import build_auth_app
from chatapp.api.live import build_live_app
from chatapp.api.security import SecurityMiddleware
from chatapp.api.session import SessionCookieMiddleware
from chatapp.config import get_settings
from chatapp.pages import routes
from chatapp.services import maintenance
from chatapp.state.guard import SessionGuard

# Settings are checked when the app starts, not at its first request: a server others can
# reach (CHATAPP_PUBLIC_URL, a public CHATAPP_HOST or bind address) needs a real secret.
get_settings().check_listen_address(get_config().backend_host)

app = rx.App(
    stylesheets=["/chat.css"],
    head_components=[
        rx.el.script(src="/chat.js", defer=True),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    ],
    # Sign-in routes match first, then the live feeds; the session middleware wraps them and
    # Reflex's app; the security middleware (CSP headers, socket Origin check) wraps everything.
    api_transformer=[build_live_app(), build_auth_app(), SessionCookieMiddleware,
                     SecurityMiddleware],
)
# Before Reflex's hydration: a tab whose cookie changed must not be sent the old user's state.
app.add_middleware(SessionGuard(), index=0)
# Ends replies whose writer died (a crash, a lost worker), whoever was watching them.
app.register_lifespan_task(maintenance.run_forever)
app.register_lifespan_task(maintenance.warm_up_in_background)
# Every page from the one table (chatapp/pages/routes.py), which also makes the settings menu.
for route in routes.ROUTES:
    app.add_page(routes.page(route), route=route.path, title=route.title, on_load=route.on_load)
