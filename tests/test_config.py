"""Settings: defaults, CHATAPP_ environment overrides, blank keys, and the production guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatapp.config import PLACEHOLDER_SECRETS, Settings
from chatapp.errors import ConfigurationError
from chatapp.services.models import available_models


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CHATAPP_ variables from the shell that runs the tests."""
    for name in list(os.environ):
        if name.upper().startswith("CHATAPP_"):
            monkeypatch.delenv(name)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_run_locally_without_any_configuration() -> None:
    settings = _settings()
    assert settings.env == "dev"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/.data/chatapp.db")
    assert settings.redis_url is None
    assert settings.local_model_enabled
    assert settings.local_model_base_url == "http://127.0.0.1:8765/v1"
    assert settings.default_model == "local/smollm2-135m"
    assert settings.openai_api_key is None and settings.anthropic_api_key is None
    assert [m.id for m in available_models(settings)] == ["local/smollm2-135m"]


def test_chatapp_environment_variables_override_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATAPP_DATABASE_URL", "postgresql+psycopg2://u@db/chat")
    monkeypatch.setenv("CHATAPP_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("CHATAPP_LOCAL_MODEL_ENABLED", "false")
    monkeypatch.setenv("CHATAPP_LOCAL_MODEL_PORT", "9000")
    monkeypatch.setenv("CHATAPP_OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CHATAPP_STREAM_FLUSH_SECONDS", "0.2")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored-without-prefix.db")

    settings = _settings()

    assert settings.database_url == "postgresql+psycopg2://u@db/chat"
    assert settings.redis_url == "redis://cache:6379/0"
    assert not settings.local_model_enabled
    assert settings.local_model_base_url == "http://127.0.0.1:9000/v1"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test"
    assert settings.stream_flush_seconds == 0.2
    models = [m.id for m in available_models(settings)]
    assert "openai/gpt-4.1-mini" in models and "local/smollm2-135m" not in models


def test_the_api_key_is_not_shown_when_settings_are_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATAPP_ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = _settings()
    assert "sk-ant-very-secret" not in repr(settings)
    assert "sk-ant-very-secret" not in str(settings.model_dump())


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_api_keys_count_as_not_configured(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    for name in ("OPENAI", "ANTHROPIC", "OPENROUTER", "GEMINI", "GROQ"):
        monkeypatch.setenv(f"CHATAPP_{name}_API_KEY", blank)
    settings = _settings()
    assert settings.openai_api_key is None
    assert settings.anthropic_api_key is None
    assert settings.openrouter_api_key is None
    assert settings.gemini_api_key is None
    assert settings.groq_api_key is None
    assert [m.id for m in available_models(settings)] == ["local/smollm2-135m"]


@pytest.mark.parametrize("secret", sorted(PLACEHOLDER_SECRETS))
def test_production_refuses_a_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("CHATAPP_ENV", "prod")
    monkeypatch.setenv("CHATAPP_SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="CHATAPP_SECRET_KEY"):
        _settings()


def test_production_refuses_the_default_secret_and_accepts_a_real_one() -> None:
    with pytest.raises(ConfigurationError, match="CHATAPP_SECRET_KEY"):
        _settings(env="prod")
    settings = _settings(env="prod", secret_key="a1b2c3d4e5f6-not-a-placeholder")
    assert settings.env == "prod"
    # Development keeps working with the placeholder, so a fresh checkout runs as is.
    assert _settings(env="dev").secret_key.get_secret_value() == "dev-insecure-secret"


@pytest.mark.parametrize(
    ("name", "value"),
    [("CHATAPP_STREAM_FLUSH_SECONDS", "0"), ("CHATAPP_MAX_OUTPUT_TOKENS", "1"),
     ("CHATAPP_ENV", "staging")],
)
def test_impossible_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("CHATAPP_").lower()):
        _settings()


def test_every_setting_is_documented_with_its_variable() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`CHATAPP_{name.upper()}`" not in doc]
    assert missing == []
