"""Settings, read from CHATAPP_* environment variables and an optional .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatapp.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "dev-insecure-secret"}


class Settings(BaseSettings):
    """Every setting chatapp reads. docs/configuration.md lists them with their defaults."""

    model_config = SettingsConfigDict(
        env_prefix="CHATAPP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["dev", "prod"] = "dev"
    database_url: str = f"sqlite:///{ROOT / '.data' / 'chatapp.db'}"
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr("dev-insecure-secret")
    host: str = "127.0.0.1"
    port: int = 3000

    # The embedded local model (llama-cpp-python's OpenAI-compatible server).
    local_model_enabled: bool = True
    local_model_host: str = "127.0.0.1"
    local_model_port: int = 8765
    local_model_path: str | None = None
    local_model_context: int = 2048

    # Hosted providers: a model appears in the picker once its provider's key is set.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    groq_api_key: SecretStr | None = None
    groq_base_url: str | None = None
    ollama_base_url: str | None = None

    # Sign-in. A provider's button appears once its client id and secret are set.
    public_url: str | None = None  # e.g. https://chat.example.org (for OAuth redirect URLs)
    session_days: int = Field(default=30, ge=1, le=400)
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_base_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_issuer: str = "https://accounts.google.com"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = "Single sign-on"
    # Sign-in providers trusted to verify email addresses (comma-separated: github, google,
    # oidc). Only a verified email from one of these links into an existing account that was
    # made with another provider; otherwise the person signs in to that account first and
    # adds the new method from the account page. Empty (the default): never link by email.
    email_link_providers: str = ""

    # Budgets: USD of the server's keys each tier may spend per rolling window. The allowance
    # refills continuously: half spent is full again after half a window.
    budget_window_hours: float = Field(default=24.0, gt=0)
    budget_anonymous_usd: float = Field(default=0.05, ge=0)
    budget_free_usd: float = Field(default=1.0, ge=0)
    budget_pro_usd: float = Field(default=20.0, ge=0)
    budget_anonymous_per_ip_usd: float = Field(default=0.25, ge=0)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)

    default_model: str = "local/smollm2-135m"
    max_output_tokens: int = Field(default=1024, ge=16, le=200_000)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    # Streaming cadence: how often live text reaches the browser and the database.
    stream_flush_seconds: float = Field(default=0.05, gt=0, le=1.0)
    stream_checkpoint_seconds: float = Field(default=1.0, gt=0, le=10.0)
    # A reply's writer renews its lease at every checkpoint; once it has gone this long without
    # renewal the reply counts as orphaned (its process died) and is ended as interrupted.
    # Longer than a short database outage, which the writer rides out (see architecture.md).
    stream_lease_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    # Send only the unfinished paragraph of a live reply; off only to measure its effect.
    stream_live_split: bool = True
    title_generation: bool = True

    @field_validator(
        "openai_api_key",
        "anthropic_api_key",
        "openrouter_api_key",
        "gemini_api_key",
        "groq_api_key",
        "github_client_id",
        "github_client_secret",
        "google_client_id",
        "google_client_secret",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        mode="before",
    )
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _lease_outlives_checkpoints(self) -> Settings:
        if self.stream_lease_seconds < 3 * self.stream_checkpoint_seconds:
            raise ConfigurationError(
                "CHATAPP_STREAM_LEASE_SECONDS must be at least three checkpoint intervals "
                f"({3 * self.stream_checkpoint_seconds:g} s), or live replies would be ended "
                "as interrupted while their writer is still at work."
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret_in_prod(self) -> Settings:
        if self.env == "prod" and self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ConfigurationError(
                "CHATAPP_SECRET_KEY must be set to a random value in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        return self

    @property
    def email_link_provider_ids(self) -> frozenset[str]:
        return frozenset(p.strip().lower() for p in self.email_link_providers.split(",")
                         if p.strip())

    @property
    def local_model_base_url(self) -> str:
        return f"http://{self.local_model_host}:{self.local_model_port}/v1"


@lru_cache
def get_settings() -> Settings:
    return Settings()
