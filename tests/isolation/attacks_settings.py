"""Bob's attacks on the usage and models settings pages (merged into test_handlers.ATTACKS).

These handlers take no id of anyone's: they act on the caller's own rows. Bob sends the
model ids Alice chose (a model id is no secret) and the opposite of her choices; the shared
test then checks that Alice's usage and preference rows are unchanged and that nothing of
hers reached his tab. The CSV download travels base64-encoded, so it is decoded and checked
here.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from sqlmodel import Session

from chatapp.models import UserSettings
from chatapp.state.models_page import SERVER_DEFAULT, ModelSettingsState
from chatapp.state.usage import UsageState
from tests.isolation.conftest import MODEL, World
from tests.isolation.harness import Outcome, Tab
from tests.isolation.world import DISABLED

Attack = Callable[[World, Tab], Awaitable[set[str]]]


def _settings_of(w: World, user_id: str) -> tuple[str | None, str, str, bool]:
    with Session(w.engine) as s:
        row = s.get(UserSettings, user_id)
        assert row is not None
        return row.default_model, row.disabled_models, row.pinned_models, row.stats_for_nerds


def download_text(out: Outcome) -> str:
    """The text of the one file the tab was told to download."""
    found = [e for e in out.events if e.name.endswith("_download")]
    assert len(found) == 1, [e.name for e in out.events]
    url = str(found[0].payload["url"])
    assert url.startswith("data:text/csv;base64,")
    return base64.b64decode(url.split(",", 1)[1]).decode()


async def usage_load(w: World, tab: Tab) -> set[str]:
    out = await tab.open("/settings/usage")
    state = await tab.state(UsageState)
    assert (out.errors, state.notice, state.loaded) == ([], "", True)
    assert [r.thread_id for r in state.recent] == [w.bob.thread_id]  # his one record
    assert state.total_requests == 1
    return set()


async def usage_export_csv(w: World, tab: Tab) -> set[str]:
    await tab.open("/settings/usage")
    out = await tab.call(UsageState, "export_csv")
    assert out.errors == []
    text = download_text(out)
    assert w.bob.texts[0] in text  # his thread's title: the export did run, for him
    assert text.count("\n") == 2  # the header and his one record
    leaked = [s for s in w.alice.secrets() if s in text]
    assert not leaked, f"the export held Alice's {leaked}"
    return set()


async def models_load(w: World, tab: Tab) -> set[str]:
    out = await tab.open("/settings/models")
    state = await tab.state(ModelSettingsState)
    assert (out.errors, state.notice) == ([], "")
    assert (state.default_model, state.stats_for_nerds) == (MODEL, True)  # Bob's own
    assert [r.id for r in state.rows if not r.enabled] == [DISABLED]
    return set()


async def _change(w: World, tab: Tab, handler: str, **payload: object) -> None:
    """Send one change from Bob's tab; it must act on Bob's row alone."""
    await tab.open("/settings/models")
    before = _settings_of(w, w.bob.user_id)
    out = await tab.call(ModelSettingsState, handler, **payload)
    assert (out.errors, (await tab.state(ModelSettingsState)).notice) == ([], "")
    assert _settings_of(w, w.bob.user_id) != before, "the change did not reach Bob's row"


async def models_enable_model(w: World, tab: Tab) -> set[str]:
    await _change(w, tab, "enable_model", model_id=DISABLED, enabled=True)
    await _change(w, tab, "enable_model", model_id=MODEL, enabled=False)
    return set()


async def models_pin_model(w: World, tab: Tab) -> set[str]:
    await _change(w, tab, "pin_model", model_id=MODEL, pinned=False)
    await _change(w, tab, "pin_model", model_id=DISABLED, pinned=True)
    return set()


async def models_choose_default(w: World, tab: Tab) -> set[str]:
    await _change(w, tab, "choose_default", model_id=SERVER_DEFAULT)
    await _change(w, tab, "choose_default", model_id="anthropic/claude-haiku-4-5")
    out = await tab.call(ModelSettingsState, "choose_default", model_id=DISABLED)
    state = await tab.state(ModelSettingsState)
    assert out.errors == [] and "Enable" in state.notice  # a hidden default is refused
    return set()


async def models_show_stats(w: World, tab: Tab) -> set[str]:
    await _change(w, tab, "show_stats", enabled=False)
    assert _settings_of(w, w.bob.user_id)[3] is False
    await _change(w, tab, "show_stats", enabled="true")
    return set()


SETTINGS_ATTACKS: dict[str, Attack] = {
    "ModelSettingsState.choose_default": models_choose_default,
    "ModelSettingsState.enable_model": models_enable_model,
    "ModelSettingsState.load": models_load,
    "ModelSettingsState.pin_model": models_pin_model,
    "ModelSettingsState.show_stats": models_show_stats,
    "UsageState.export_csv": usage_export_csv,
    "UsageState.load": usage_load,
}
