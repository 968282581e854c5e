"""Every chatapp event handler, called by Bob with Alice's ids: refused, nothing changed.

HANDLERS is the table of every event handler of every chatapp state and how it is attacked.
`test_every_handler_is_in_the_table` fails when a handler exists that the table does not name
(or its parameters changed), so a new handler — an export, a rename, a delete — cannot ship
without its isolation case here. tests/isolation/test_routes.py does the same for routes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import secrets
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import pytest
from reflex.state import BaseState, State
from reflex_base.event import EventHandler

import chatapp.state
from chatapp.cache import get_stop_signals
from chatapp.errors import NotFoundError
from chatapp.state.account import DELETE_CONFIRMATION, AccountState
from chatapp.state.composer import ComposerState
from chatapp.state.live import LiveState
from chatapp.state.sidebar import SidebarState
from chatapp.state.thread import ThreadState
from tests.isolation.attacks_conversations import CONVERSATION_ATTACKS
from tests.isolation.attacks_keys import KEYS_ATTACKS
from tests.isolation.attacks_settings import SETTINGS_ATTACKS
from tests.isolation.conftest import MODEL, World
from tests.isolation.harness import Tab
from tests.isolation.screen import chat_screen
from tests.isolation.world import all_counts, live_session_ids, owned_rows

URL_THREAD = "the other user's thread id, as the page URL /chat/<id>"
MESSAGE_ARG = "the other user's message ids, as its argument"
SESSION_ARG = "the other user's session ids, as its argument"
THREAD_ARG = "the other user's thread ids, as its argument"
SERVER_HELD = ("no id from the browser: only ids the server put in the tab's state; "
               "called with the tab on the other user's thread")
OWN_DATA = ("takes no id: acts only on the caller's own data; "
            "called with the tab on the other user's thread")


class Case(NamedTuple):
    kind: str
    params: tuple[str, ...]  # the handler's arguments: a new one needs a new look


HANDLERS: dict[str, Case] = {
    "AccountState.delete_account": Case(OWN_DATA, ("form_data",)),
    "AccountState.load": Case(OWN_DATA, ()),
    "AccountState.revoke_session": Case(SESSION_ARG, ("session_id",)),
    "AccountState.sign_out": Case(OWN_DATA, ()),
    "AccountState.sign_out_everywhere": Case(OWN_DATA, ()),
    "ComposerState.dismiss_notice": Case(OWN_DATA, ()),
    "ThreadState.load_earlier": Case(URL_THREAD, ()),
    "ComposerState.load_page": Case(URL_THREAD, ()),
    "ComposerState.retry": Case(MESSAGE_ARG, ("message_id",)),
    "ComposerState.send_message": Case(URL_THREAD, ("form_data",)),
    "ComposerState.set_model": Case(OWN_DATA, ("model_id",)),  # a catalog id, nobody's data
    # API keys: a provider name only, never a user or key id: each handler acts on the
    # caller's own keys, so Bob cannot test, replace or delete Alice's (attacks_keys.py).
    "KeysState.delete_key": Case(OWN_DATA, ("provider",)),
    "KeysState.load": Case(OWN_DATA, ()),
    "KeysState.save_key": Case(OWN_DATA, ("form_data",)),
    "KeysState.test_key": Case(OWN_DATA, ("provider",)),
    "LiveState.follow_reply": Case(SERVER_HELD, ()),
    "LiveState.run_generation": Case(SERVER_HELD, ()),
    "LiveState.stop": Case(SERVER_HELD, ()),
    # Settings pages: no id of anyone's; model ids are catalog ids (attacks_settings.py).
    "ModelSettingsState.choose_default": Case(OWN_DATA, ("model_id",)),
    "ModelSettingsState.enable_model": Case(OWN_DATA, ("model_id", "enabled")),
    "ModelSettingsState.load": Case(OWN_DATA, ()),
    "ModelSettingsState.pin_model": Case(OWN_DATA, ("model_id", "pinned")),
    "ModelSettingsState.show_stats": Case(OWN_DATA, ("enabled",)),
    "SignInState.load": Case(OWN_DATA, ()),
    "UsageState.export_csv": Case(OWN_DATA, ()),
    "UsageState.load": Case(OWN_DATA, ()),
    # Conversations (attacks_conversations.py): thread ids from the browser are checked
    # against the caller; the rename and edit boxes only pick a row of the caller's own page.
    "SidebarState.load_more_threads": Case(SERVER_HELD, ()),
    "SidebarState.show_archived": Case(OWN_DATA, ("archived",)),
    "SidebarState.start_rename": Case(THREAD_ARG, ("thread_id",)),
    "SidebarState.cancel_rename": Case(OWN_DATA, ()),
    "SidebarState.rename": Case(THREAD_ARG, ("form_data",)),
    "SidebarState.set_pinned": Case(THREAD_ARG, ("thread_id", "pinned")),
    "SidebarState.set_archived": Case(THREAD_ARG, ("thread_id", "archived")),
    "SidebarState.delete": Case(THREAD_ARG, ("thread_id",)),
    "SidebarState.undo_delete": Case(SERVER_HELD, ()),
    "ThreadState.switch_branch": Case(MESSAGE_ARG, ("message_id",)),
    "ThreadState.fork": Case(MESSAGE_ARG, ("message_id",)),
    "ThreadState.start_edit": Case(MESSAGE_ARG, ("message_id",)),
    "ThreadState.cancel_edit": Case(OWN_DATA, ()),
    "ThreadState.dismiss_notice": Case(OWN_DATA, ()),
    "ThreadState.load_newer": Case(URL_THREAD, ()),
    "ComposerState.edit_message": Case(MESSAGE_ARG, ("form_data",)),
    "ComposerState.retry_with": Case(MESSAGE_ARG, ("message_id", "model_id")),
    "ComposerState.save_draft": Case(URL_THREAD, ("text",)),
    "ModelMenuState.choose": Case(MESSAGE_ARG, ("message_id",)),  # opens a dialog only
    "ModelMenuState.closed": Case(OWN_DATA, ("shown",)),
    # Search reads only the caller's own words (two users, the same words: each sees theirs).
    "PaletteState.open_palette": Case(OWN_DATA, ()),
    "PaletteState.opened": Case(OWN_DATA, ("shown",)),
    "PaletteState.search": Case(OWN_DATA, ("query",)),
    "PaletteState.toggle_archived": Case(OWN_DATA, ("include",)),
}
# Reflex's own handlers allowed on chatapp states. `setvar` can only call `set_<var>`
# methods, and test_no_other_handler_and_no_var_the_browser_could_set shows none exist.
BUILTIN_HANDLERS = {"setvar"}
NOT_FOUND = NotFoundError.user_message


def chatapp_states() -> list[type[BaseState]]:
    """Every state class defined in chatapp, after importing every module of chatapp.state."""
    for mod in pkgutil.walk_packages(chatapp.state.__path__, "chatapp.state."):
        importlib.import_module(mod.name)
    found, stack = [], [State]
    while stack:
        cls = stack.pop()
        stack.extend(cls.get_substates())
        if cls.__module__.startswith("chatapp."):
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)


def chatapp_handlers() -> dict[str, EventHandler]:
    return {f"{cls.__name__}.{name}": handler
            for cls in chatapp_states() for name, handler in cls.event_handlers.items()
            if handler.fn.__module__.startswith("chatapp.")}


def test_every_handler_is_in_the_table() -> None:
    handlers = chatapp_handlers()
    assert {"ComposerState.load_page", "LiveState.run_generation"} <= set(handlers)  # found some
    missing = sorted(set(handlers) - set(HANDLERS))
    assert not missing, f"add an isolation case to HANDLERS and ATTACKS for {missing}"
    gone = sorted(set(HANDLERS) - set(handlers))
    assert not gone, f"HANDLERS names handlers that no longer exist: {gone}"
    for name, handler in handlers.items():
        params = tuple(inspect.signature(handler.fn).parameters)[1:]
        assert params == HANDLERS[name].params, f"{name} now takes {params}: review its case"
    assert set(ATTACKS) == set(HANDLERS)


def test_no_other_handler_and_no_var_the_browser_could_set() -> None:
    for cls in chatapp_states():
        builtins = {n for n, h in cls.event_handlers.items()
                    if not h.fn.__module__.startswith("chatapp.")}
        assert builtins <= BUILTIN_HANDLERS, f"{cls.__name__} gained handlers {builtins}"
        names = set(cls.get_fields()) - set(State.get_fields())  # its public and backend vars
        assert not [n for n in names if hasattr(cls, f"set_{n}")], "setvar could set a var"
        assert not [n for n in cls.base_vars if cls._is_client_storage(n)], (
            "a cookie/storage var is set by the browser (update_vars_internal)")


async def test_setvar_cannot_point_a_tab_at_another_users_ids(world: World) -> None:
    alice, tab = world.alice, world.tab(world.bob)
    await tab.open("/")
    chat_out = await tab.call(ThreadState, "setvar", var_name="current_thread_id",
                              value=alice.thread_id)
    live_out = await tab.call(LiveState, "setvar", var_name="message_id",
                              value=alice.streaming_reply_id)
    assert chat_out.errors and live_out.errors
    assert (await chat_screen(tab)).current_thread_id == ""
    assert (await tab.state(LiveState)).message_id == ""


# --- the attacks: each returns the ids of Alice's that Bob typed in ------------------------

Attack = Callable[[World, Tab], Awaitable[set[str]]]
ATTACKS: dict[str, Attack] = {}


def attack(name: str) -> Callable[[Attack], Attack]:
    def register(fn: Attack) -> Attack:
        ATTACKS[name] = fn
        return fn
    return register


async def _on_alices_thread(w: World, tab: Tab, *, streaming: bool = False) -> str:
    thread_id = w.alice.streaming_thread_id if streaming else w.alice.thread_id
    out = await tab.open(f"/chat/{thread_id}")
    chat = await chat_screen(tab)
    assert (chat.not_found, chat.messages, out.errors) == (True, [], [])
    assert not (await tab.state(LiveState)).active
    return thread_id


@attack("ComposerState.load_page")
async def _load_page(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab), await _on_alices_thread(w, tab, streaming=True)}
    sidebar = await tab.state(SidebarState)
    assert {t.id for t in sidebar.threads} == {w.bob.thread_id, w.bob.streaming_thread_id}
    # Someone else's thread looks exactly like one that does not exist.
    await tab.open(f"/chat/{secrets.token_urlsafe(16)}")
    assert (await chat_screen(tab)).not_found
    return supplied


@attack("ThreadState.load_earlier")
async def _load_earlier(w: World, tab: Tab) -> set[str]:
    thread_id = await _on_alices_thread(w, tab)
    out = await tab.call(ThreadState, "load_earlier")
    chat = await chat_screen(tab)
    assert (chat.not_found, chat.messages, out.errors) == (True, [], [])
    return {thread_id}


@attack("ComposerState.send_message")
async def _send_message(w: World, tab: Tab) -> set[str]:
    supplied = set()
    for streaming in (False, True):  # "busy" would tell Bob the thread exists: not found
        supplied.add(await _on_alices_thread(w, tab, streaming=streaming))
        out = await tab.call(ComposerState, "send_message", form_data={"message": "Bob was here"})
        chat = await chat_screen(tab)
        assert (chat.notice, chat.messages, out.events, out.errors) == (NOT_FOUND, [], [], [])
    return supplied


@attack("ComposerState.retry")
async def _retry(w: World, tab: Tab) -> set[str]:
    await tab.open(f"/chat/{w.bob.thread_id}")
    before = (await chat_screen(tab)).messages
    a = w.alice
    supplied = {a.failed_reply_id, a.finished_reply_id, a.user_message_id, a.followup_id,
                a.streaming_reply_id}
    for message_id in [*sorted(supplied), secrets.token_urlsafe(16)]:
        await tab.call(ComposerState, "dismiss_notice")
        out = await tab.call(ComposerState, "retry", message_id=message_id)
        chat = await chat_screen(tab)
        assert (chat.notice, out.events, out.errors) == (NOT_FOUND, [], [])
        assert chat.messages == before
    return supplied


@attack("ComposerState.set_model")
async def _set_model(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab)}
    out = await tab.call(ComposerState, "set_model", model_id=MODEL)
    assert out.errors == []
    return supplied


@attack("ComposerState.dismiss_notice")
async def _dismiss_notice(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab)}
    assert (await tab.call(ComposerState, "dismiss_notice")).errors == []
    return supplied


async def _no_generation(w: World, tab: Tab, handler: str) -> set[str]:
    requests = len(w.wire.requests)
    supplied = {await _on_alices_thread(w, tab, streaming=True)}
    out = await tab.call(LiveState, handler)
    live = await tab.state(LiveState)
    assert (live.active, live.message_id, out.errors) == (False, "", [])
    supplied.add(await _on_alices_thread(w, tab))
    await tab.call(ComposerState, "send_message", form_data={"message": "then generate"})
    await tab.call(LiveState, handler)
    assert not (await tab.state(LiveState)).active
    assert len(w.wire.requests) == requests, "a provider was asked to write something"
    return supplied


@attack("LiveState.run_generation")
async def _run_generation(w: World, tab: Tab) -> set[str]:
    return await _no_generation(w, tab, "run_generation")


@attack("LiveState.follow_reply")
async def _follow_reply(w: World, tab: Tab) -> set[str]:
    return await _no_generation(w, tab, "follow_reply")


@attack("LiveState.stop")
async def _stop(w: World, tab: Tab) -> set[str]:
    a = w.alice
    supplied = {await _on_alices_thread(w, tab, streaming=True)}
    assert (await tab.call(LiveState, "stop")).errors == []
    assert not (await tab.state(LiveState)).stopping
    # Even a tab whose live block somehow pointed at Alice's reply cannot stop it.
    async with tab.modify(LiveState) as live:
        live.message_id = a.streaming_reply_id
        live.thread_id = a.streaming_thread_id
    out = await tab.call(LiveState, "stop")
    assert ((await tab.state(LiveState)).stopping, out.errors) == (False, [])
    return supplied | {a.streaming_reply_id}


@attack("AccountState.load")
async def _account_load(w: World, tab: Tab) -> set[str]:
    assert (await tab.open("/settings/account")).errors == []
    sessions = (await tab.state(AccountState)).sessions
    assert {s.id for s in sessions} == {w.bob.session_id, w.bob.other_session_id}
    return set()


@attack("AccountState.revoke_session")
async def _revoke_session(w: World, tab: Tab) -> set[str]:
    await tab.open("/settings/account")
    before = (await tab.state(AccountState)).sessions
    supplied = {w.alice.session_id, w.alice.other_session_id}
    for session_id in sorted(supplied):
        await tab.open("/settings/account")  # clears the last notice
        out = await tab.call(AccountState, "revoke_session", session_id=session_id)
        account = await tab.state(AccountState)
        assert (account.notice, account.sessions, out.events) == (NOT_FOUND, before, [])
    return supplied


@attack("AccountState.sign_out")
async def _sign_out(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab)}
    assert (await tab.call(AccountState, "sign_out")).errors == []
    assert live_session_ids(w.engine, w.bob.user_id) == {w.bob.other_session_id}  # Bob's own
    return supplied


@attack("AccountState.sign_out_everywhere")
async def _sign_out_everywhere(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab)}
    assert (await tab.call(AccountState, "sign_out_everywhere")).errors == []
    assert live_session_ids(w.engine, w.bob.user_id) == set()  # it did act, on Bob
    return supplied


@attack("AccountState.delete_account")
async def _delete_account(w: World, tab: Tab) -> set[str]:
    supplied = {await _on_alices_thread(w, tab)}
    out = await tab.call(AccountState, "delete_account", form_data={"confirm": DELETE_CONFIRMATION})
    assert out.errors == []
    assert owned_rows(w.engine, w.bob.user_id)["users"] == []  # it did act, on Bob
    return supplied


@attack("SignInState.load")
async def _sign_in_load(w: World, tab: Tab) -> set[str]:
    out = await tab.open(f"/signin?next=/chat/{w.alice.thread_id}")
    assert out.errors == []
    return {w.alice.thread_id}


ATTACKS.update(SETTINGS_ATTACKS)
ATTACKS.update(CONVERSATION_ATTACKS)
ATTACKS.update(KEYS_ATTACKS)


@pytest.mark.parametrize("name", sorted(HANDLERS))
async def test_other_users_ids_are_refused_and_nothing_changes(name: str, world: World) -> None:
    alice, bob, engine = world.alice, world.bob, world.engine
    alices, bobs, counts = owned_rows(engine, alice.user_id), owned_rows(engine, bob.user_id), \
        all_counts(engine)
    tab = world.tab(bob)

    supplied = await ATTACKS[name](world, tab)

    assert owned_rows(engine, alice.user_id) == alices, "Alice's data changed"
    if HANDLERS[name].kind != OWN_DATA:
        assert owned_rows(engine, bob.user_id) == bobs, "a refused call changed Bob's data"
        assert all_counts(engine) == counts
    signals = get_stop_signals()
    assert not [m for m in alice.ids().values() if await signals.is_requested(m)]
    seen = await tab.everything_seen()
    leaked = [s for s in alice.secrets() if s not in supplied and s in seen]
    assert not leaked, f"Bob's tab was sent Alice's {leaked}"
