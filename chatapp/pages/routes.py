"""Every page of the app as data: one table feeds `app.add_page` and the settings navigation.

A page under /settings/ has a `SettingsEntry` and only such a page has one (the constructor
refuses anything else); the settings navigation is made from those entries, in table order,
and every settings body is put in the one frame here. So a settings page cannot exist without
its link, nor a link without its page. The page modules never import this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import reflex as rx

from chatapp.components.settings_nav import SettingsLink, settings_frame
from chatapp.pages import account, chat, keys, models, signin, usage
from chatapp.state.account import AccountState
from chatapp.state.composer import ComposerState
from chatapp.state.keys import KeysState
from chatapp.state.models_page import ModelSettingsState
from chatapp.state.signin import SignInState
from chatapp.state.usage import UsageState

SETTINGS_PREFIX = "/settings/"


@dataclass(frozen=True)
class SettingsEntry:
    """How a settings page appears: its link in the navigation and the frame's heading."""

    label: str
    heading: str
    max_width: str = "640px"


@dataclass(frozen=True)
class Route:
    """One page. `component` is the whole page, or for a settings page the body the frame
    wraps."""

    path: str
    title: str
    component: Callable[[], rx.Component]
    on_load: rx.EventHandler
    settings: SettingsEntry | None = None

    def __post_init__(self) -> None:
        if self.path.startswith(SETTINGS_PREFIX) != (self.settings is not None):
            raise ValueError(f"{self.path}: a page under {SETTINGS_PREFIX}, and only such a "
                             "page, needs a SettingsEntry (its link in the settings navigation)")


ROUTES: tuple[Route, ...] = (
    Route("/", "chatapp", chat.index, ComposerState.load_page),
    Route("/chat/[thread_id]", "chatapp", chat.thread, ComposerState.load_page),
    Route("/signin", "Sign in · chatapp", signin.page, SignInState.load),
    Route("/settings/account", "Account · chatapp", account.body, AccountState.load,
          SettingsEntry("Account", "Account")),
    Route("/settings/models", "Models · chatapp", models.body, ModelSettingsState.load,
          SettingsEntry("Models", "Models")),
    Route("/settings/keys", "API keys · chatapp", keys.body, KeysState.load,
          SettingsEntry("Keys", "API keys")),
    Route("/settings/usage", "Usage · chatapp", usage.body, UsageState.load,
          SettingsEntry("Usage", "Usage", max_width="960px")),
)


def settings_links(routes: Iterable[Route] = ROUTES) -> tuple[SettingsLink, ...]:
    """The settings navigation: every settings route of the table, in table order."""
    return tuple(SettingsLink(r.settings.label, r.path) for r in routes if r.settings)


def page(route: Route, routes: Iterable[Route] = ROUTES) -> Callable[[], rx.Component]:
    """What `add_page` gets for `route`: its component, inside the settings frame (with the
    navigation of `routes`) for a settings page."""
    settings = route.settings
    if settings is None:
        return route.component
    links = settings_links(routes)

    def framed() -> rx.Component:
        return settings_frame(route.component(), heading=settings.heading, links=links,
                              current=route.path, max_width=settings.max_width)

    return framed
