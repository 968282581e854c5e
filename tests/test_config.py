"""Settings: defaults, CHATAPP_ environment overrides, blank keys, and the production guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatapp.config import PLACEHOLDER_SECRETS, Settings
from chatapp.errors import ConfigurationError
from chatapp.services.catalog.serving import available_models


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
    with pytest.raises(ConfigurationError, match="CHATAPP_SECRET_KEY must be set in production"):
        _settings(env="prod")
    settings = _settings(env="prod", secret_key="a1b2c3d4e5f6-not-a-placeholder-at-all")
    assert settings.env == "prod"


@pytest.mark.parametrize(
    "exposure",
    [{"host": "0.0.0.0"}, {"host": "192.0.2.10"}, {"host": "chat.example.org"},
     {"public_url": "https://chat.example.org"}, {"env": "prod"}],
    ids=["all-addresses", "lan-address", "host-name", "public-url", "prod"],
)
@pytest.mark.parametrize(
    "secret", [None, "dev-insecure-secret", "changethis", "short-but-random-9f8e"],
    ids=["unset", "old-default", "placeholder", "short"],
)
def test_a_server_others_can_reach_refuses_a_missing_placeholder_or_short_secret(
    exposure: dict[str, str], secret: str | None, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="CHATAPP_SECRET_KEY"):
        _settings(secret_key=secret, data_dir=tmp_path, **exposure)
    assert not (tmp_path / "secret_key").exists()  # nothing generated for a public server
    strong = _settings(secret_key="x" * 31 + "y", data_dir=tmp_path, **exposure)
    assert strong.secret == "x" * 31 + "y"


def test_on_loopback_an_unset_secret_is_generated_once_never_a_published_constant(
    tmp_path: Path
) -> None:
    first = _settings(data_dir=tmp_path)
    again = _settings(data_dir=tmp_path, host="localhost")
    elsewhere = _settings(data_dir=tmp_path / "other")

    assert first.secret == again.secret != elsewhere.secret
    assert len(first.secret) >= 60 and first.secret not in PLACEHOLDER_SECRETS
    stored = tmp_path / "secret_key"
    assert stored.read_text().strip() == first.secret
    assert stored.stat().st_mode & 0o777 == 0o600
    # The old constant still opens keys sealed under it, so upgrading loses none.
    assert first.previous_secrets == ["dev-insecure-secret"]
    assert _settings(secret_key="a" * 40, data_dir=tmp_path).previous_secrets == []


def test_a_generated_secret_refuses_to_serve_beyond_loopback(tmp_path: Path) -> None:
    local = _settings(data_dir=tmp_path)
    local.check_listen_address("127.0.0.1")
    local.check_listen_address("::1")
    with pytest.raises(ConfigurationError, match="beyond loopback"):
        local.check_listen_address("0.0.0.0")  # e.g. `reflex run --backend-host 0.0.0.0`
    _settings(secret_key="z" * 40, data_dir=tmp_path).check_listen_address("0.0.0.0")


def test_previous_secrets_are_a_comma_separated_list_without_the_current_one() -> None:
    settings = _settings(secret_key="n" * 40, secret_key_previous=f" {'o' * 40}, ,{'n' * 40},p")
    assert settings.previous_secrets == ["o" * 40, "p"]


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
