"""Settings, read from CHATAPP_* environment variables and an optional .env file."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatapp.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
# The constant earlier versions used by default: still a placeholder, and still tried when
# opening keys sealed on a loopback install that ran with it (see `previous_secrets`).
LEGACY_DEFAULT_SECRET = "dev-insecure-secret"
PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "secret", LEGACY_DEFAULT_SECRET}
MIN_SECRET_CHARS = 32
LOCAL_SECRET_FILE = "secret_key"


def is_loopback(host: str) -> bool:
    """Whether an address to listen on (or a host name) stays on this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def local_secret(data_dir: Path) -> str:
    """The random secret of a loopback install: made once into `data_dir`, read ever after.
    Created atomically (a hard link), so workers starting together agree on one."""
    path = data_dir / LOCAL_SECRET_FILE
    if path.is_file() and (existing := path.read_text().strip()):
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    draft = data_dir / f".{LOCAL_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    draft.write_text(secrets.token_urlsafe(48) + "\n")
    draft.chmod(0o600)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text().strip()


def _weak(secret: str) -> bool:
    return secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_CHARS


class Settings(BaseSettings):
    """Every setting chatapp reads. docs/configuration.md lists them with their defaults."""

    model_config = SettingsConfigDict(
        env_prefix="CHATAPP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )
    _generated_secret: bool = PrivateAttr(default=False)

    env: Literal["dev", "prod"] = "dev"
    database_url: str = f"sqlite:///{ROOT / '.data' / 'chatapp.db'}"
    redis_url: str | None = None
    # Unset: generated once into data_dir, on a loopback install only (see _secret_fits).
    secret_key: SecretStr | None = None
    # Earlier secrets, comma-separated: they still open what they sealed (own API keys) until
    # `python -m chatapp.cli rotate-keys` re-seals it under secret_key. Never used to seal.
    secret_key_previous: SecretStr | None = None
    data_dir: Path = ROOT / ".data"
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
    # Anonymous users exist only once a visitor needs one (a first message, a setting saved):
    # at most this many new ones per client address an hour; removed, chats and all, after
    # this many days without activity (0: never).
    anonymous_users_per_ip_per_hour: int = Field(default=20, ge=1)
    anonymous_retention_days: int = Field(default=30, ge=0)

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
    title_generation: bool = True

    @field_validator(
        "secret_key",
        "secret_key_previous",
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
    def _secret_fits(self) -> Settings:
        """A server others can reach needs a real secret of the operator's; on loopback an
        unset secret is generated once into data_dir (never a published constant)."""
        if self.secret_key is None:
            if self.exposed:
                raise ConfigurationError(
                    f"CHATAPP_SECRET_KEY must be set {self._why_exposed()}: at least "
                    f"{MIN_SECRET_CHARS} random characters (for example: python -c "
                    "'import secrets; print(secrets.token_urlsafe(32))')."
                )
            self.secret_key = SecretStr(local_secret(self.data_dir))
            self._generated_secret = True
        elif self.exposed and _weak(self.secret_key.get_secret_value()):
            raise ConfigurationError(
                f"CHATAPP_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_CHARS} "
                f"characters, which is refused {self._why_exposed()}. Set a random value (for "
                "example: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        return self

    @property
    def public_https(self) -> bool:
        """CHATAPP_PUBLIC_URL names an https address (the cookies' Secure flag follows it)."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def exposed(self) -> bool:
        """Others can reach this server: production, a public URL, or a non-loopback host."""
        return self.env == "prod" or bool(self.public_url) or not is_loopback(self.host)

    def _why_exposed(self) -> str:
        if self.env == "prod":
            return "in production"
        if self.public_url:
            return f"when the app has a public URL ({self.public_url})"
        return f"when the app listens beyond loopback (CHATAPP_HOST={self.host})"

    def check_listen_address(self, host: str) -> None:
        """Refuse to serve beyond loopback on a generated or weak secret: the address Reflex
        actually binds may come from its own flags rather than CHATAPP_HOST."""
        if is_loopback(host):
            return
        if self._generated_secret or _weak(self.secret):
            raise ConfigurationError(
                f"The app listens on {host}, beyond loopback, so CHATAPP_SECRET_KEY must be "
                f"set to at least {MIN_SECRET_CHARS} random characters (and CHATAPP_HOST to "
                "that address)."
            )

    @property
    def secret(self) -> str:
        assert self.secret_key is not None  # set by _secret_fits
        return self.secret_key.get_secret_value()

    @property
    def previous_secrets(self) -> list[str]:
        """Secrets that may still open what they sealed, newest first."""
        listed = (self.secret_key_previous.get_secret_value().split(",")
                  if self.secret_key_previous else [])
        found = [s.strip() for s in listed if s.strip() and s.strip() != self.secret]
        if self._generated_secret and LEGACY_DEFAULT_SECRET not in found:
            found.append(LEGACY_DEFAULT_SECRET)  # loopback installs from before generation
        return found

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
