"""Adding an OpenAI-compatible service is one catalog entry (its preset and models) plus its two
documented settings: no code. This test adds one, as a developer would, and uses it end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from chatapp.config import Settings
from chatapp.providers import catalog
from chatapp.providers.base import ChatMessage, StreamRequest
from chatapp.providers.catalog import ModelInfo, ProviderPreset
from chatapp.providers.openai_compat import OpenAICompatibleProvider
from chatapp.services.catalog import preferences, serving
from tests.fakes.wire_server import ScriptedServer
from tests.providers.conftest import collect

PRESET = ProviderPreset("together", "Together AI", "openai", "https://api.together.xyz/v1")
MODEL = ModelInfo("together", "llama-4-scout", "Llama 4 Scout (Together)", 131_072,
                  input_price=0.18, output_price=0.59)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


class WithTogether(Settings):
    """The two settings the preset names, as they would be added to chatapp/config.py."""

    together_api_key: SecretStr | None = None
    together_base_url: str | None = None


@pytest.fixture
def with_preset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The catalog with the new entry in it (what editing catalog.py does)."""
    monkeypatch.setitem(catalog.PROVIDERS, PRESET.id, PRESET)
    monkeypatch.setattr(catalog, "MODELS", (*catalog.MODELS, MODEL))
    monkeypatch.setitem(catalog.MODELS_BY_ID, MODEL.id, MODEL)
    yield


def _settings(**values: object) -> WithTogether:
    return WithTogether(_env_file=None, secret_key="s" * 40, local_model_enabled=False,  # type: ignore[call-arg]
                        **values)


async def test_a_new_openai_compatible_preset_works_end_to_end(
    with_preset: None, wire_server: ScriptedServer
) -> None:
    # Without its key it is not offered; with it, it is, everywhere the catalog is read.
    assert MODEL.id not in [m.id for m in serving.available_models(_settings())]
    settings = _settings(together_api_key="sk-together-test",
                         together_base_url=wire_server.base_url)
    assert MODEL.id in [m.id for m in serving.available_models(settings)]
    picker = preferences.picker_models(settings, preferences.Preferences(),
                                       preferences.Access("anonymous"))
    assert [(m.label, m.provider_label, m.available) for m in picker if m.id == MODEL.id] == [
        ("Llama 4 Scout (Together)", "Together AI", True)]
    assert "together" in catalog.key_providers()  # the API keys page offers it too

    model, provider = serving.resolve(settings, MODEL.id, None)
    async with provider:
        assert isinstance(provider, OpenAICompatibleProvider)
        collected, _ = await collect(provider, StreamRequest(
            model=model.api_model, messages=[ChatMessage("user", "hello together")]))

    assert "hello together" in collected.content  # the scripted server echoes
    request = wire_server.last_request
    assert request.body["model"] == "llama-4-scout"
    assert request.headers["authorization"] == "Bearer sk-together-test"


def test_the_settings_a_preset_names_are_the_ones_to_document(with_preset: None) -> None:
    assert (PRESET.key_setting, PRESET.url_setting) == ("together_api_key", "together_base_url")
    # Every real preset's settings exist and are documented (the config test checks the rest).
    doc = DOCS.read_text()
    for preset in catalog.PROVIDERS.values():
        if preset is PRESET:
            continue
        for name in (preset.key_setting, preset.url_setting, preset.enabled_setting):
            if name is not None:
                assert hasattr(Settings(_env_file=None, secret_key="s" * 40), name), name  # type: ignore[call-arg]
                assert f"`CHATAPP_{name.upper()}`" in doc or name == "local_model_base_url", name
