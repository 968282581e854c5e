"""build_provider: the adapter follows the preset's wire protocol and the configured address."""

from __future__ import annotations

import pytest

from chatapp.errors import ModelUnavailableError, ProviderTimeoutError
from chatapp.providers.anthropic import AnthropicProvider
from chatapp.providers.base import ChatMessage, StreamRequest
from chatapp.providers.catalog import PROVIDERS, ProviderPreset
from chatapp.providers.openai_compat import OpenAICompatibleProvider
from chatapp.providers.registry import build_provider
from tests.fakes.wire_server import ScriptedServer
from tests.providers.conftest import collect, collect_until_error


def ask(text: str) -> StreamRequest:
    return StreamRequest(model="scripted-model", messages=[ChatMessage("user", text)])


async def test_openai_protocol_preset_streams_from_the_override_url(
    wire_server: ScriptedServer,
) -> None:
    provider = build_provider(PROVIDERS["local"], api_key=None, base_url=wire_server.base_url)
    try:
        collected, _ = await collect(provider, ask("hi"))
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert isinstance(provider, OpenAICompatibleProvider)
    assert collected.content == "Echo: hi"
    assert wire_server.last_request.path == "/v1/chat/completions"


async def test_anthropic_protocol_preset_streams_messages(wire_server: ScriptedServer) -> None:
    provider = build_provider(
        PROVIDERS["anthropic"], api_key="sk-ant-key", base_url=wire_server.anthropic_base_url
    )
    try:
        collected, _ = await collect(provider, ask("hi"))
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert isinstance(provider, AnthropicProvider)
    assert collected.content == "Echo: hi"
    assert wire_server.last_request.path == "/v1/messages"


async def test_preset_address_and_timeout_are_used(wire_server: ScriptedServer) -> None:
    preset = ProviderPreset("scripted", "Scripted", "openai", wire_server.base_url)
    provider = build_provider(preset, api_key="sk-key", timeout=0.3)
    try:
        _, exc = await collect_until_error(provider, ask("[[delay_first=3]]"))
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert isinstance(exc, ProviderTimeoutError)
    assert len(wire_server.requests) == 1


def test_a_preset_needing_a_key_is_unavailable_without_one() -> None:
    with pytest.raises(ModelUnavailableError) as info:
        build_provider(PROVIDERS["openai"], api_key=None)

    assert "OpenAI" in info.value.user_message


def test_a_keyless_preset_without_an_address_is_unavailable() -> None:
    with pytest.raises(ModelUnavailableError) as info:
        build_provider(PROVIDERS["local"], api_key=None)

    assert "Local model" in info.value.user_message
