"""The owner's side of the API keys page, through the real handlers: a pasted key is sealed
and gone. It is in no var (public or backend, as pickled for Redis), no delta or event sent
to the tab, and no log line; what comes back is its last four characters and the test result.
"""

from __future__ import annotations

import logging
import secrets

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State

from chatapp.errors import ProviderAuthError
from chatapp.services.catalog import keys
from chatapp.state.keys import KeysState
from tests.isolation.attacks_keys import SERVER_KEY, key_row, load, sign_in
from tests.isolation.conftest import World
from tests.isolation.harness import Tab


async def pickled_states(tab: Tab) -> bytes:
    """Every state of the tab, backend vars included, as the Redis state manager stores it."""
    root = await tab.harness.manager.get_state(BaseStateToken(ident=tab.token, cls=State))
    found, stack = [], [root]
    while stack:
        state: BaseState = stack.pop()
        found.append(state._serialize())
        stack.extend(state.substates.values())
    return b"".join(found)


async def assert_nowhere(tab: Tab, caplog: pytest.LogCaptureFixture, *pasted: str) -> None:
    seen, stored = await tab.everything_seen(), await pickled_states(tab)
    for key in pasted:
        for text in (key, key[:-4]):  # the whole key, or all but the four shown
            assert text not in seen, "the key reached the browser"
            assert text.encode() not in stored, "the key is kept in a state var"
            assert text not in caplog.text, "the key is in the log"


async def test_alice_saves_tests_replaces_and_deletes_her_key(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = world.alice
    sign_in(world, alice.user_id)
    tab = world.tab(alice)
    await tab.open("/settings/keys")
    assert (await tab.state(KeysState)).signed_in

    good, wrong = f"sk-{secrets.token_hex(20)}", f"sk-{secrets.token_hex(20)}"
    world.wire.accepted_keys = frozenset({SERVER_KEY, good})
    try:
        out = await tab.call(KeysState, "save_key",
                             form_data={"provider": "openai", "key": f" {good} "})
        (row,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
        assert (out.errors, row.provider, row.last4, row.status) == ([], "openai", good[-4:], "")
        assert load(world, alice.user_id) == good
        await tab.call(KeysState, "test_key", provider="openai")
        (row,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
        assert (row.status, row.message) == ("ok", keys.CHECK_OK_MESSAGE)
        assert good[-4:] in tab.wire()  # the last four are what the browser gets

        await tab.call(KeysState, "save_key", form_data={"provider": "openai", "key": wrong})
        (row,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
        assert (row.last4, row.status) == (wrong[-4:], "")  # the old result went with the key
        await tab.call(KeysState, "test_key", provider="openai")
        (row,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
        assert (row.status, row.message) == ("failed", ProviderAuthError.user_message)
    finally:
        world.wire.accepted_keys = None
    await tab.open("/settings/keys")  # a reload shows the same, from the database
    (row,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
    assert (row.last4, row.status) == (wrong[-4:], "failed")

    await tab.call(KeysState, "delete_key", provider="openai")
    assert not [r for r in (await tab.state(KeysState)).rows if r.saved]
    assert key_row(world, alice.user_id) is None
    await assert_nowhere(tab, caplog, good, wrong)


async def test_an_anonymous_user_is_asked_to_sign_in_and_nothing_is_stored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    tab = world.tab(world.bob)
    await tab.open("/settings/keys")
    state = await tab.state(KeysState)
    assert (state.loaded, state.signed_in) == (True, False)
    key = f"sk-{secrets.token_hex(20)}"
    await tab.call(KeysState, "save_key", form_data={"provider": "openai", "key": key})
    assert (await tab.state(KeysState)).notice == keys.SIGN_IN_MESSAGE
    assert key_row(world, world.bob.user_id) is None
    await assert_nowhere(tab, caplog, key)


async def test_refused_input_is_not_echoed(world: World, caplog: pytest.LogCaptureFixture
                                           ) -> None:
    sign_in(world, world.alice.user_id)
    tab = world.tab(world.alice)
    await tab.open("/settings/keys")
    pasted = f"sk-{secrets.token_hex(10)} {secrets.token_hex(10)}"
    for provider, notice in (("openai", "An API key is one line of letters, digits and "
                                        "symbols, no spaces."),
                             ("local", "That provider does not take an API key.")):
        await tab.call(KeysState, "save_key", form_data={"provider": provider, "key": pasted})
        assert (await tab.state(KeysState)).notice == notice
    assert key_row(world, world.alice.user_id) is None
    for part in pasted.split():
        await assert_nowhere(tab, caplog, part)
