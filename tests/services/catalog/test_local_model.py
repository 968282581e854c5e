"""The UI's "local model is not running" hint: is_online asks the model server."""

from __future__ import annotations

import socket

import pytest

from chatapp.config import Settings
from chatapp.services.catalog import local_model
from tests.fakes.wire_server import ScriptedServer


@pytest.fixture(autouse=True)
def no_cached_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model, "_last", None)


def settings_for(port: int, **kwargs: object) -> Settings:
    return Settings(_env_file=None, local_model_port=port, **kwargs)  # type: ignore[call-arg]


async def test_online_when_the_server_lists_models() -> None:
    with ScriptedServer() as server:
        assert await local_model.is_online(settings_for(server.port))


async def test_offline_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not await local_model.is_online(settings_for(port))


async def test_offline_when_disabled() -> None:
    with ScriptedServer() as server:
        assert not await local_model.is_online(settings_for(server.port,
                                                             local_model_enabled=False))
