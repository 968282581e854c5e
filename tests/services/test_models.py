"""Which models the picker offers, and why an unconfigured one is refused."""

from __future__ import annotations

import pytest

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError
from chatapp.providers.anthropic import AnthropicProvider
from chatapp.providers.openai_compat import OpenAICompatibleProvider
from chatapp.services import models


def make(**kwargs: object) -> Settings:
    return Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]


def test_only_the_local_model_without_keys() -> None:
    ids = [m.id for m in models.available_models(make())]
    assert ids == ["local/smollm2-135m"]


def test_a_key_brings_its_providers_models() -> None:
    ids = {m.id for m in models.available_models(make(anthropic_api_key="sk-ant-x",
                                                      gemini_api_key="g-key"))}
    assert {"anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash"} <= ids
    assert not any(i.startswith("openai/") for i in ids)


def test_blank_key_counts_as_unset() -> None:
    ids = [m.id for m in models.available_models(make(openai_api_key="  "))]
    assert not any(i.startswith("openai/") for i in ids)


def test_local_model_can_be_turned_off() -> None:
    assert models.available_models(make(local_model_enabled=False, groq_api_key="k")) != []
    assert all(m.id != "local/smollm2-135m"
               for m in models.available_models(make(local_model_enabled=False)))


def test_resolve_builds_the_adapter_for_the_wire_protocol() -> None:
    settings = make(anthropic_api_key="sk-ant-x", openrouter_api_key="or-key")
    model, provider = models.resolve(settings, "anthropic/claude-haiku-4-5")
    assert model.api_model == "claude-haiku-4-5"
    assert isinstance(provider, AnthropicProvider)
    _, provider = models.resolve(settings, "openrouter/deepseek/deepseek-r1")
    assert isinstance(provider, OpenAICompatibleProvider)


def test_unconfigured_or_unknown_model_is_refused_with_a_reason() -> None:
    with pytest.raises(ModelUnavailableError) as exc:
        models.resolve(make(), "openai/gpt-4.1")
    assert "OpenAI is not configured" in exc.value.user_message
    with pytest.raises(ModelUnavailableError) as exc:
        models.resolve(make(), "nope/model")
    assert "Unknown model" in exc.value.user_message


def test_default_model_falls_back_to_an_available_one() -> None:
    assert models.default_model_id(make(default_model="openai/gpt-4.1",
                                        local_model_enabled=True)) == "local/smollm2-135m"
    assert models.default_model_id(make(default_model="openai/gpt-4.1",
                                        openai_api_key="k")) == "openai/gpt-4.1"
