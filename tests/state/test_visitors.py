"""A first visit stores nothing: pages load for a visitor with no user behind it, and the user
is made by the first thing that needs one (a message, a saved setting), through the real event
processor."""

from __future__ import annotations

from sqlmodel import Session, func, select

from chatapp.config import get_settings
from chatapp.models import Thread, User
from chatapp.services.identity import tokens
from chatapp.state.composer import ComposerState
from chatapp.state.models_page import ModelSettingsState
from chatapp.state.sidebar import SidebarState
from tests.isolation.conftest import MODEL, World
from tests.isolation.screen import chat_screen
from tests.isolation.world import all_counts


def _users(world: World) -> int:
    with Session(world.engine) as s:
        return s.exec(select(func.count()).select_from(User)).one()


async def test_a_visitor_browses_every_page_and_nothing_is_stored(world: World) -> None:
    token = tokens.mint_visitor_token(get_settings().secret)
    tab = world.harness.tab(token)
    before = all_counts(world.engine)

    for path in ("/", "/settings/models", "/settings/usage", "/settings/keys",
                 "/settings/account", "/signin", f"/chat/{world.alice.thread_id}"):
        out = await tab.open(path)
        assert out.errors == [], path

    assert all_counts(world.engine) == before  # no user, no session, nothing
    chat = await chat_screen(tab)
    assert chat.not_found and chat.notice == ""  # Alice's thread is not the visitor's
    assert any(c.id == MODEL and c.available
               for c in (await tab.state(ComposerState)).model_choices)
    assert (await tab.state(SidebarState)).threads == []
    seen = await tab.everything_seen()
    typed = world.alice.thread_id  # in the URL the visitor typed, so in its router data
    assert not [s for s in world.alice.secrets() if s in seen and s != typed]


async def test_the_first_message_makes_the_visitor_a_user_who_keeps_the_chat(
    world: World
) -> None:
    token = tokens.mint_visitor_token(get_settings().secret)
    tab = world.harness.tab(token)
    await tab.open("/")
    users = _users(world)

    out = await tab.call(ComposerState, "send_message", form_data={"message": "hello there"})

    assert out.errors == [] and (await chat_screen(tab)).notice == ""
    assert _users(world) == users + 1
    with Session(world.engine) as s:
        user_id = tokens.user_for_token(s, token=token)
        assert user_id is not None
        [thread] = s.exec(select(Thread).where(Thread.user_id == user_id)).all()
    tab.reconnect(token)  # a reload: the same cookie, now a session
    await tab.open("/")
    assert [t.id for t in (await tab.state(SidebarState)).threads] == [thread.id]
    assert _users(world) == users + 1


async def test_saving_a_setting_makes_the_visitor_a_user_too(world: World) -> None:
    token = tokens.mint_visitor_token(get_settings().secret)
    tab = world.harness.tab(token)
    await tab.open("/settings/models")
    users = _users(world)

    await tab.call(ModelSettingsState, "show_stats", enabled=True)

    assert _users(world) == users + 1
    assert (await tab.state(ModelSettingsState)).stats_for_nerds
