"""Which models the picker offers, and why an unconfigured one is refused."""

from __future__ import annotations

import pytest

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError
from chatapp.providers.anthropic import AnthropicProvider
from chatapp.providers.openai_compat import OpenAICompatibleProvider
from chatapp.services.catalog import serving


def make(**kwargs: object) -> Settings:
    return Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]


def test_only_the_local_model_without_keys() -> None:
    ids = [m.id for m in serving.available_models(make())]
    assert ids == ["local/smollm2-135m"]


def test_a_key_brings_its_providers_models() -> None:
    ids = {m.id for m in serving.available_models(make(anthropic_api_key="sk-ant-x",
                                                      gemini_api_key="g-key"))}
    assert {"anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash"} <= ids
    assert not any(i.startswith("openai/") for i in ids)


def test_blank_key_counts_as_unset() -> None:
    ids = [m.id for m in serving.available_models(make(openai_api_key="  "))]
    assert not any(i.startswith("openai/") for i in ids)


def test_local_model_can_be_turned_off() -> None:
    assert serving.available_models(make(local_model_enabled=False, groq_api_key="k")) != []
    assert all(m.id != "local/smollm2-135m"
               for m in serving.available_models(make(local_model_enabled=False)))


def test_resolve_builds_the_adapter_for_the_wire_protocol() -> None:
    settings = make(anthropic_api_key="sk-ant-x", openrouter_api_key="or-key")
    model, provider = serving.resolve(settings, "anthropic/claude-haiku-4-5")
    assert model.api_model == "claude-haiku-4-5"
    assert isinstance(provider, AnthropicProvider)
    _, provider = serving.resolve(settings, "openrouter/deepseek/deepseek-r1")
    assert isinstance(provider, OpenAICompatibleProvider)


def test_unconfigured_or_unknown_model_is_refused_with_a_reason() -> None:
    with pytest.raises(ModelUnavailableError) as exc:
        serving.resolve(make(), "openai/gpt-4.1")
    assert "OpenAI is not configured" in exc.value.user_message
    with pytest.raises(ModelUnavailableError) as exc:
        serving.resolve(make(), "nope/model")
    assert "Unknown model" in exc.value.user_message


def test_default_model_falls_back_to_an_available_one() -> None:
    assert serving.default_model_id(make(default_model="openai/gpt-4.1",
                                        local_model_enabled=True)) == "local/smollm2-135m"
    assert serving.default_model_id(make(default_model="openai/gpt-4.1",
                                        openai_api_key="k")) == "openai/gpt-4.1"


# --- the user's own keys -----------------------------------------------------------------

OWN = "sk-own-0123456789abcdef"


def test_an_own_key_brings_its_providers_models_for_that_user_only() -> None:
    settings = make(local_model_enabled=False)
    assert serving.available_models(settings) == []
    mine = serving.available_models(settings, own_keys={"anthropic": OWN})
    assert {m.id for m in mine} == {"anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"}
    assert all(m.own_key for m in mine)
    # The providers alone are enough (keys.own_key_providers, nothing decrypted).
    assert serving.available_models(settings, own_keys={"anthropic"}) == mine
    # Keyless providers are not unlocked by a "key", and unknown names are ignored.
    assert serving.available_models(settings, own_keys={"local", "ollama", "nope"}) == []


def test_server_models_are_marked_as_the_servers() -> None:
    settings = make(local_model_enabled=False, openai_api_key="sk-server")
    both = serving.available_models(settings, own_keys={"anthropic"})
    assert {m.id.split("/")[0]: m.own_key for m in both} == {"openai": False, "anthropic": True}


def test_resolve_uses_the_own_key_first_at_the_servers_endpoint() -> None:
    settings = make(anthropic_api_key="sk-server", anthropic_base_url="http://127.0.0.1:9/x")
    _, provider = serving.resolve(settings, "anthropic/claude-haiku-4-5", {"anthropic": OWN})
    assert isinstance(provider, AnthropicProvider)
    assert (provider._api_key, provider._base_url) == (OWN, "http://127.0.0.1:9/x")
    _, provider = serving.resolve(settings, "anthropic/claude-haiku-4-5")  # as before
    assert isinstance(provider, AnthropicProvider) and provider._api_key == "sk-server"


def test_resolve_with_an_own_key_where_the_server_has_none() -> None:
    settings = make(gemini_base_url="http://127.0.0.1:9/v1beta/openai/")
    with pytest.raises(ModelUnavailableError):
        serving.resolve(settings, "google/gemini-2.5-flash")
    _, provider = serving.resolve(settings, "google/gemini-2.5-flash", {"google": OWN})
    assert isinstance(provider, OpenAICompatibleProvider)
    assert (provider._api_key, provider._base_url) == (OWN, "http://127.0.0.1:9/v1beta/openai/")
    creds = serving.credentials(settings, "google", {"google": OWN})
    assert creds is not None and creds.own_key and OWN not in repr(creds)


def test_own_keys_do_not_change_keyless_providers() -> None:
    settings = make()
    creds = serving.credentials(settings, "local", {"local": OWN})
    assert creds is not None and (creds.api_key, creds.own_key) == (None, False)
