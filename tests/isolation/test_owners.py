"""The owner's side: what Bob is refused works for Alice, and no tab holds a token or user id.

The controls show the refusals in test_handlers.py come from the ownership checks, not from
a harness that cannot reach the data: the same handlers with the same ids work for Alice.
"""

from __future__ import annotations

from sqlmodel import Session

from chatapp.cache import get_stop_signals
from chatapp.chatapp import app
from chatapp.models import MessageStatus
from chatapp.services.identity import accounts, tokens
from chatapp.state.account import AccountState
from chatapp.state.composer import ComposerState
from chatapp.state.guard import HOLD_NO_USER_DATA, SessionKeyState, user_states
from chatapp.state.live import LiveState
from chatapp.state.meter import MeterState
from chatapp.state.models_page import ModelSettingsState
from chatapp.state.thread import ThreadState
from chatapp.state.usage import UsageState
from chatapp.state.user import forget_cached_sessions
from tests.isolation.attacks_settings import download_text
from tests.isolation.conftest import World
from tests.isolation.harness import Tab
from tests.isolation.screen import chat_screen
from tests.isolation.test_handlers import chatapp_states as chatapp_handler_states
from tests.isolation.world import DISABLED, Person, all_counts, live_session_ids, owned_rows


async def test_alice_opens_retries_stops_and_revokes_with_her_own_ids(world: World) -> None:
    alice, engine = world.alice, world.engine
    tab = world.tab(alice)
    await tab.open(f"/chat/{alice.thread_id}")
    chat = await chat_screen(tab)
    assert (chat.not_found, [m.content for m in chat.messages]) == (False, alice.texts[:4])

    messages = all_counts(engine)["messages"]
    out = await tab.call(ComposerState, "retry", message_id=alice.failed_reply_id)
    chat = await chat_screen(tab)
    assert (out.errors, chat.notice) == ([], "")
    assert chat.messages[-1].status == MessageStatus.COMPLETE
    assert alice.texts[2] in chat.messages[-1].content  # the scripted model echoes the question
    assert all_counts(engine)["messages"] == messages + 1

    out = await tab.call(ComposerState, "send_message", form_data={"message": "One more"})
    assert (out.errors, (await chat_screen(tab)).notice) == ([], "")
    assert all_counts(engine)["messages"] == messages + 3

    # Her streaming reply: the tab follows it (in the background) and can stop it.
    await tab.open(f"/chat/{alice.streaming_thread_id}", settle=False)
    assert (await tab.state(LiveState)).message_id == alice.streaming_reply_id
    await tab.call(LiveState, "stop")
    assert (await tab.state(LiveState)).stopping
    assert await get_stop_signals().is_requested(alice.streaming_reply_id)

    await tab.open("/settings/account")
    sessions = (await tab.state(AccountState)).sessions
    assert {s.id for s in sessions} == {alice.session_id, alice.other_session_id}
    await tab.call(AccountState, "revoke_session", session_id=alice.other_session_id)
    assert live_session_ids(engine, alice.user_id) == {alice.session_id}


async def test_alice_sees_her_usage_and_changes_her_own_preferences(world: World) -> None:
    alice, bob, engine = world.alice, world.bob, world.engine
    tab = world.tab(alice)
    await tab.open("/settings/usage")
    usage_page = await tab.state(UsageState)
    assert [(r.thread_id, r.thread_title) for r in usage_page.recent] == [
        (alice.thread_id, alice.texts[0])]
    out = await tab.call(UsageState, "export_csv")
    assert alice.texts[0] in download_text(out)

    bobs = owned_rows(engine, bob.user_id)["user_settings"]
    await tab.open("/settings/models")
    await tab.call(ModelSettingsState, "enable_model", model_id=DISABLED, enabled=True)
    await tab.call(ModelSettingsState, "show_stats", enabled=False)
    models_page = await tab.state(ModelSettingsState)
    assert (models_page.notice, models_page.stats_for_nerds) == ("", False)
    assert all(r.enabled for r in models_page.rows)
    assert owned_rows(engine, bob.user_id)["user_settings"] == bobs


def _credentials(person: Person) -> list[str]:
    raw = [person.token, person.other_token]
    return [*raw, *(tokens.hash_token(t) for t in raw), person.user_id]


async def _use_normally(world: World, person: Person) -> Tab:
    tab = world.tab(person)
    await tab.open("/")
    await tab.open(f"/chat/{person.thread_id}")
    await tab.open(f"/chat/{person.streaming_thread_id}", settle=False)
    await tab.open("/settings/account")
    await tab.open("/settings/usage")
    await tab.open("/settings/models")
    await tab.open("/signin")
    return tab


async def test_no_tab_holds_a_session_token_a_token_hash_or_a_user_id(world: World) -> None:
    alice, bob = world.alice, world.bob
    alices, bobs = await _use_normally(world, alice), await _use_normally(world, bob)
    for tab, me, other in ((alices, alice, bob), (bobs, bob, alice)):
        seen = await tab.everything_seen()
        assert me.texts[0] in seen  # the tab did load this user's data
        assert not [s for s in _credentials(me) if s in seen]
        assert not [s for s in other.secrets() if s in seen]
        assert "chatapp_session" not in seen  # the cookie header is never sent back


def every_page(person: Person) -> list[str]:
    """Every page of the app, from its route table, with the person's ids in dynamic routes."""
    fill = {"thread_id": person.thread_id}
    paths = []
    for route in app._unevaluated_pages:
        parts = [fill[p[1:-1]] if p.startswith("[") else p for p in route.split("/")]
        paths.append("/" if route == "index" else "/" + "/".join(parts))
    return paths


async def test_a_tab_that_changes_user_shows_nothing_of_the_previous_one(world: World) -> None:
    alice, bob = world.alice, world.bob
    tab = world.tab(alice)
    pages = every_page(alice)
    assert {"/", "/settings/usage", "/settings/models", "/settings/keys"} <= set(pages)
    for path in pages:  # so every state holds something of Alice's
        await tab.open(path)
    await tab.open(f"/chat/{alice.streaming_thread_id}", settle=False)
    usage = await tab.state(UsageState)
    assert usage.total_requests == 1 and usage.recent  # her spend, by thread title

    tab.reconnect(bob.token)  # same tab (sessionStorage keeps the Reflex token), new cookie
    out = await tab.open("/")

    sent = out.text() + await tab.public_vars()
    assert bob.texts[0] in sent  # Bob's sidebar did load
    assert not [s for s in alice.secrets() if s in sent]


async def test_a_tab_whose_session_ended_shows_nothing_of_it_even_with_the_same_cookie(
    world: World
) -> None:
    alice = world.alice
    tab = world.tab(alice)
    await tab.open(f"/chat/{alice.thread_id}")
    assert alice.texts[0] in await tab.public_vars()
    with Session(world.engine) as s:  # signed out (or revoked) elsewhere
        accounts.sign_out(s, token=alice.token)
        s.commit()
    forget_cached_sessions()

    tab.reconnect(alice.token)  # the browser did not get a new cookie (say, a cached page)
    out = await tab.open("/")

    sent = out.text() + await tab.public_vars()
    assert not [s for s in alice.texts if s in sent]
    assert alice.thread_id not in sent


def test_the_guard_resets_every_state_but_its_own_bookkeeping() -> None:
    chatapp_states = {cls for cls in user_states() if cls.__module__.startswith("chatapp.")}
    assert {UsageState, ModelSettingsState, ComposerState, ThreadState, MeterState, LiveState,
            AccountState} <= chatapp_states
    walked = set(chatapp_handler_states())
    assert walked - set(user_states()) == set(HOLD_NO_USER_DATA) == {SessionKeyState}
