"""Reflex configuration: chatapp's own settings live in chatapp/config.py."""

import functools
import os

import reflex as rx

# No outbound calls at run time: telemetry and version checks off. The npm registry is whatever
# npm is configured with on this machine: the project's .npmrc and bunfig.toml name none, and
# because they exist Reflex copies them instead of probing registries for the fastest one.
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
os.environ.setdefault("REFLEX_USE_NPM", "1")


def _respawn_failed_workers() -> None:
    """Reflex starts Granian with its default `respawn_failed_workers=False`, so one worker
    dying (a crash, the OOM killer) would shut down every worker. A dead worker is replaced
    instead: its replies end as interrupted when their leases run out, the others serve on."""
    try:
        from granian.server.common import AbstractServer
    except ImportError:  # another backend server: nothing to do
        return
    init = AbstractServer.__init__
    if getattr(init, "chatapp_respawns", False):
        return

    @functools.wraps(init)
    def respawning(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("respawn_failed_workers", True)
        init(self, *args, **kwargs)

    respawning.chatapp_respawns = True  # type: ignore[attr-defined]
    AbstractServer.__init__ = respawning  # type: ignore[method-assign]


_respawn_failed_workers()

_port = int(os.environ.get("CHATAPP_PORT", "3000"))
# Reflex's own default is 0.0.0.0: a plain `reflex run` then serves every network. chatapp
# listens where CHATAPP_HOST says, loopback unless set (the app refuses a public address
# without a real CHATAPP_SECRET_KEY).
_host = os.environ.get("CHATAPP_HOST", "127.0.0.1")

config = rx.Config(
    app_name="chatapp",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_port,
    backend_port=_port,
    backend_host=_host,
    redis_url=os.environ.get("CHATAPP_REDIS_URL") or None,
    # Pages and socket share one origin, so no other origin needs CORS: none is allowed
    # (Reflex's default is "*"). An empty list also turns off socket.io's own Origin check,
    # which chatapp.api.security does instead, knowing CHATAPP_PUBLIC_URL and the Host.
    cors_allowed_origins=[],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="violet", gray_color="slate", radius="large")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
