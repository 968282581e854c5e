"""Which catalog models this server can serve, and the provider adapter for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError
from chatapp.providers.base import Provider
from chatapp.providers.catalog import MODELS, PROVIDERS, ModelInfo, get_model
from chatapp.providers.registry import build_provider


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None
    base_url: str | None


@dataclass(frozen=True, slots=True)
class ModelOption:
    id: str
    label: str
    provider_label: str
    context_window: int
    vision: bool
    reasoning: bool


# Provider ids whose settings use another name (CHATAPP_GEMINI_API_KEY for "google").
SETTINGS_PREFIX = {"google": "gemini"}


def credentials(settings: Settings, provider_id: str) -> Credentials | None:
    """The key and endpoint for a provider, or None when it is not configured."""
    if provider_id == "local":
        if not settings.local_model_enabled:
            return None
        return Credentials(None, settings.local_model_base_url)
    if provider_id == "ollama":
        if not settings.ollama_base_url:
            return None
        return Credentials(None, settings.ollama_base_url)
    prefix = SETTINGS_PREFIX.get(provider_id, provider_id)
    secret = getattr(settings, f"{prefix}_api_key", None)
    if secret is None:
        return None
    base_url = getattr(settings, f"{prefix}_base_url", None)
    return Credentials(secret.get_secret_value(), base_url)


def available_models(settings: Settings) -> list[ModelOption]:
    """Models whose provider is configured, in catalog order."""
    return [
        ModelOption(
            m.id, m.label, PROVIDERS[m.provider].label, m.context_window, m.vision, m.reasoning
        )
        for m in MODELS
        if credentials(settings, m.provider) is not None
    ]


ProviderResolver = Callable[[Settings, str], tuple[ModelInfo, Provider]]


def resolve(settings: Settings, model_id: str) -> tuple[ModelInfo, Provider]:
    """The model entry and a ready adapter, or ModelUnavailableError saying why not."""
    model = get_model(model_id)
    if model is None:
        raise ModelUnavailableError(
            f"unknown model {model_id!r}", user_message=f"Unknown model “{model_id}”."
        )
    creds = credentials(settings, model.provider)
    if creds is None:
        preset = PROVIDERS[model.provider]
        raise ModelUnavailableError(
            f"provider {preset.id} not configured",
            user_message=f"{model.label} is not available: {preset.label} is not configured "
            "on this server.",
        )
    provider = build_provider(
        PROVIDERS[model.provider],
        api_key=creds.api_key,
        base_url=creds.base_url,
        timeout=settings.request_timeout_seconds,
    )
    return model, provider


def default_model_id(settings: Settings) -> str:
    ids = [m.id for m in available_models(settings)]
    if settings.default_model in ids or not ids:
        return settings.default_model
    return ids[0]
