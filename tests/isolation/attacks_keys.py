"""Bob's attacks on the API keys page (merged into test_handlers.ATTACKS).

The keys handlers take a provider name, never a user or key id: whoever calls them acts on
their own keys only. Each attack gives Alice a stored OpenAI key (her plaintext joins her
secrets, so the shared test checks it never reached Bob's tab), signs Bob in (anonymous
users have no keys), sends what Bob can (her user id in the form, the same provider name),
then checks her row is byte for byte unchanged and still opens to her key.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from sqlmodel import Session, select

from chatapp.config import get_settings
from chatapp.errors import NotFoundError
from chatapp.models import ApiKey, User
from chatapp.providers.catalog import key_providers
from chatapp.services.catalog import keys
from chatapp.state.keys import KeysState
from tests.isolation.conftest import World
from tests.isolation.harness import Tab

Attack = Callable[[World, Tab], Awaitable[set[str]]]
SERVER_KEY = "sk-test-isolation"  # the server's own OpenAI key in the isolation settings
KeyRow = tuple[object, ...]


def key_row(w: World, user_id: str, provider: str = "openai") -> KeyRow | None:
    """Every column of the user's key row, read on a new connection."""
    with Session(w.engine) as s:
        row = s.exec(select(ApiKey).where(ApiKey.user_id == user_id,
                                          ApiKey.provider == provider)).first()
        return None if row is None else tuple(row.model_dump().values())


def load(w: World, user_id: str, provider: str = "openai") -> str | None:
    with Session(w.engine) as s:
        return keys.load_key(s, settings=get_settings(), user_id=user_id, provider=provider)


def sign_in(w: World, user_id: str) -> None:
    """Mark the user as signed in (as an OAuth sign-in would have)."""
    with Session(w.engine) as s:
        user = s.get(User, user_id)
        assert user is not None
        user.is_anonymous = False
        s.add(user)
        s.commit()


def give_key(w: World, user_id: str, provider: str = "openai") -> str:
    """Store a key for the user straight in the table, sealed as the service seals it."""
    key = f"sk-{secrets.token_hex(20)}"
    sealed = keys.seal(get_settings(), user_id=user_id, provider=provider, plaintext=key)
    with Session(w.engine) as s:
        s.add(ApiKey(user_id=user_id, provider=provider, ciphertext=sealed, last4=key[-4:]))
        s.commit()
    return key


def _arm(w: World) -> tuple[str, KeyRow | None]:
    """Alice's key, registered as her secret; Bob signed in. Returns it and her row."""
    alices = give_key(w, w.alice.user_id)
    w.alice.texts.append(alices)
    sign_in(w, w.bob.user_id)
    return alices, key_row(w, w.alice.user_id)


def _untouched(w: World, alices: str, row: KeyRow | None) -> None:
    assert key_row(w, w.alice.user_id) == row, "Alice's key row changed"
    assert load(w, w.alice.user_id) == alices


async def keys_load(w: World, tab: Tab) -> set[str]:
    alices, row = _arm(w)
    out = await tab.open("/settings/keys")
    state = await tab.state(KeysState)
    assert (out.errors, state.notice, state.signed_in) == ([], "", True)
    assert [r.provider for r in state.rows] == list(key_providers())
    assert not [r for r in state.rows if r.saved or r.last4]  # Bob has none; hers not shown
    _untouched(w, alices, row)
    return set()


async def keys_save_key(w: World, tab: Tab) -> set[str]:
    alices, row = _arm(w)
    await tab.open("/settings/keys")
    bobs = f"sk-{secrets.token_hex(20)}"
    out = await tab.call(KeysState, "save_key", form_data={
        "provider": "openai", "key": bobs, "user_id": w.alice.user_id})
    state = await tab.state(KeysState)
    assert (out.errors, state.notice) == ([], "")
    assert load(w, w.bob.user_id) == bobs  # it did act, on Bob's own key
    assert [r.last4 for r in state.rows if r.saved] == [bobs[-4:]]
    assert bobs not in await tab.everything_seen()
    _untouched(w, alices, row)
    return {w.alice.user_id}


async def keys_test_key(w: World, tab: Tab) -> set[str]:
    alices, row = _arm(w)
    await tab.open("/settings/keys")
    w.wire.accepted_keys = frozenset({SERVER_KEY})  # Alice's key would be refused
    try:
        out = await tab.call(KeysState, "test_key", provider="openai")
        state = await tab.state(KeysState)
        assert (out.errors, state.notice, state.testing) == ([], NotFoundError.user_message, "")
        bobs = give_key(w, w.bob.user_id)
        w.wire.accepted_keys = frozenset({SERVER_KEY, bobs})
        await tab.open("/settings/keys")
        await tab.call(KeysState, "test_key", provider="openai")
        (tested,) = [r for r in (await tab.state(KeysState)).rows if r.saved]
        assert (tested.status, tested.message) == ("ok", keys.CHECK_OK_MESSAGE)  # Bob's own
    finally:
        w.wire.accepted_keys = None
    _untouched(w, alices, row)
    return set()


async def keys_delete_key(w: World, tab: Tab) -> set[str]:
    alices, row = _arm(w)
    await tab.open("/settings/keys")
    out = await tab.call(KeysState, "delete_key", provider="openai")
    state = await tab.state(KeysState)
    assert (out.errors, state.notice) == ([], NotFoundError.user_message)
    _untouched(w, alices, row)
    give_key(w, w.bob.user_id)
    await tab.call(KeysState, "delete_key", provider="openai")
    assert key_row(w, w.bob.user_id) is None  # it did act, on Bob's own key
    _untouched(w, alices, row)
    return set()


KEYS_ATTACKS: dict[str, Attack] = {
    "KeysState.delete_key": keys_delete_key,
    "KeysState.load": keys_load,
    "KeysState.save_key": keys_save_key,
    "KeysState.test_key": keys_test_key,
}
