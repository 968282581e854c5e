"""Fixtures for the isolation suite: the app's settings, a Reflex worker, users Alice and Bob."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import Engine

from chatapp import cache, config
from chatapp.config import Settings
from chatapp.state.user import forget_cached_sessions
from tests.fakes.wire_server import ScriptedServer
from tests.isolation.harness import Harness, Tab
from tests.isolation.world import Person, make_person

MODEL = "openai/gpt-4.1-mini"  # answered by the scripted server through the OpenAI preset


@pytest.fixture(scope="module")
def wire() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def app_settings(wire: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings the handlers read through get_settings(): a hosted model on loopback,
    no local model, no sign-in providers, no Redis; every cache that outlives a test cleared."""
    for key in os.environ:
        if key.startswith("CHATAPP_") and not key.startswith("CHATAPP_TEST_"):
            monkeypatch.delenv(key)
    for key, value in {
        "CHATAPP_SECRET_KEY": "isolation-suite-server-secret-0123456789",
        "CHATAPP_OPENAI_API_KEY": "sk-test-isolation",
        "CHATAPP_OPENAI_BASE_URL": wire.base_url,
        "CHATAPP_DEFAULT_MODEL": MODEL,
        "CHATAPP_LOCAL_MODEL_ENABLED": "false",
        "CHATAPP_TITLE_GENERATION": "false",
        "CHATAPP_STREAM_FLUSH_SECONDS": "0.02",
        "CHATAPP_STREAM_CHECKPOINT_SECONDS": "0.1",
    }.items():
        monkeypatch.setenv(key, value)
    caches = (config.get_settings.cache_clear, cache.get_stop_signals.cache_clear,
              cache.get_rate_limiter.cache_clear, forget_cached_sessions)
    for clear in caches:
        clear()
    yield config.get_settings()
    for clear in caches:
        clear()


@dataclasses.dataclass
class World:
    """Alice owns the data under attack; Bob is the other signed-in browser."""

    engine: Engine
    harness: Harness
    wire: ScriptedServer
    alice: Person
    bob: Person

    def tab(self, person: Person) -> Tab:
        return self.harness.tab(person.token)


@pytest.fixture
async def world(
    engine: Engine, app_settings: Settings, wire: ScriptedServer
) -> AsyncIterator[World]:
    alice = make_person(engine, app_settings, "alice")
    bob = make_person(engine, app_settings, "bob")
    async with Harness() as harness:
        yield World(engine, harness, wire, alice, bob)
