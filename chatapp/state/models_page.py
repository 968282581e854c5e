"""The models settings page: enable, pin, the default for new chats, stats for nerds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError
from chatapp.services.catalog import preferences
from chatapp.state.user import current_user_id, reader_or_notice

# The select's value for "no choice of mine": Radix selects refuse "" and model ids hold "/".
SERVER_DEFAULT = "server-default"


@dataclasses.dataclass
class ModelRow:
    id: str = ""
    label: str = ""
    provider_label: str = ""
    enabled: bool = True
    pinned: bool = False
    default: bool = False
    available: bool = True
    reason: str = ""


def _flag(value: object) -> bool:
    """A switch's checked value; a hand-made event may send it as text."""
    return value is True or str(value).lower() == "true"


# Handlers are not named set_<var>: Reflex's setvar would then let the browser call them.
class ModelSettingsState(rx.State):
    loaded: bool = False
    notice: str = ""
    rows: list[ModelRow] = []
    default_model: str = SERVER_DEFAULT
    stats_for_nerds: bool = False

    @rx.var
    def default_choices(self) -> list[ModelRow]:
        """The models that may be the default: the enabled ones."""
        return [r for r in self.rows if r.enabled]

    async def _apply(self, change: Callable[..., object]) -> None:
        """Run one preferences change for the caller, then show the stored result."""
        self.notice = ""
        try:
            user_id = await current_user_id(self)
            await db.run(change, user_id)
        except ChatappError as exc:
            self.notice = exc.user_message
            return
        await self._refresh(user_id)

    async def _refresh(self, user_id: str) -> None:
        rows, stats = await db.run(
            lambda s: preferences.settings_page(s, get_settings(), user_id=user_id))
        self.rows = [ModelRow(r.id, r.label, r.provider_label, r.enabled, r.pinned, r.default,
                              r.available, r.reason) for r in rows]
        self.default_model = next((r.id for r in rows if r.default), SERVER_DEFAULT)
        self.stats_for_nerds = stats
        self.loaded = True

    @rx.event
    async def load(self) -> None:
        """on_load of `/settings/models`."""
        self.notice = ""
        user_id = await reader_or_notice(self)
        if user_id is None:
            return
        await self._refresh(user_id)

    @rx.event
    async def enable_model(self, model_id: str, enabled: bool) -> None:
        await self._apply(lambda s, uid: preferences.set_enabled(
            s, user_id=uid, model_id=str(model_id), enabled=_flag(enabled)))

    @rx.event
    async def pin_model(self, model_id: str, pinned: bool) -> None:
        await self._apply(lambda s, uid: preferences.set_pinned(
            s, user_id=uid, model_id=str(model_id), pinned=_flag(pinned)))

    @rx.event
    async def choose_default(self, model_id: str) -> None:
        choice = None if model_id == SERVER_DEFAULT else str(model_id)
        await self._apply(lambda s, uid: preferences.set_default_model(
            s, user_id=uid, model_id=choice))

    @rx.event
    async def show_stats(self, enabled: bool) -> None:
        await self._apply(lambda s, uid: preferences.set_stats_for_nerds(
            s, user_id=uid, enabled=_flag(enabled)))
