"""Which catalog models this server can serve, and the provider adapter for each.

A user's own keys (`own_keys`: provider → key, decrypted by chatapp.services.keys) come first:
with one, a model is available even where the server has no key, and replies use it (and so
do not draw on the user's budget). Without `own_keys` everything is as configured.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError
from chatapp.providers.base import Provider
from chatapp.providers.catalog import PROVIDERS, ModelInfo, WireProtocol, all_models, get_model
from chatapp.providers.registry import build_provider


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None = field(repr=False)  # may be a user's own key: never in a log line
    base_url: str | None
    own_key: bool = False  # the user's own key, not the server's


@dataclass(frozen=True, slots=True)
class ModelOption:
    id: str
    label: str
    provider_label: str
    context_window: int
    vision: bool
    reasoning: bool
    own_key: bool = False  # served with the user's own key


def server_base_url(settings: Settings, provider_id: str) -> str | None:
    """The endpoint the operator configured for a provider (None: its preset's default)."""
    preset = PROVIDERS.get(provider_id)
    return getattr(settings, preset.url_setting, None) if preset is not None else None


def _own_key(provider_id: str, own_keys: Mapping[str, str] | None) -> str | None:
    preset = PROVIDERS.get(provider_id)
    if not own_keys or preset is None or not preset.needs_key:
        return None
    return own_keys.get(provider_id) or None


def credentials(
    settings: Settings, provider_id: str, own_keys: Mapping[str, str] | None = None
) -> Credentials | None:
    """The key and endpoint for a provider, or None when it is not configured, all read from
    the settings its preset names (see ProviderPreset).

    The user's own key for the provider, when `own_keys` has one, wins over the server's.
    """
    preset = PROVIDERS.get(provider_id)
    if preset is None:
        return None
    url = server_base_url(settings, provider_id)
    own = _own_key(provider_id, own_keys)
    if own is not None:
        return Credentials(own, url, own_key=True)
    if preset.enabled_setting is not None and not getattr(settings, preset.enabled_setting):
        return None
    if preset.key_setting is None:  # a keyless server: configured when it has an address
        return Credentials(None, url) if (url or preset.base_url) else None
    secret = getattr(settings, preset.key_setting, None)
    if secret is None:
        return None
    return Credentials(secret.get_secret_value(), url)


NOT_HERE_REASON = "Not set up on this server"  # a keyless provider (local, Ollama) not running


def not_served(settings: Settings, model: ModelInfo,
               own_key_providers: Collection[str] = ()) -> str:
    """Why this server cannot serve the model to a user with keys of their own for
    `own_key_providers` ("": it can). The one rule of "configured"; who may use a served
    model is the user's tier's business (identity.tiers.access_reason)."""
    preset = PROVIDERS[model.provider]
    if preset.needs_key and model.provider in own_key_providers:
        return ""
    if credentials(settings, model.provider) is not None:
        return ""
    if not preset.needs_key:
        return NOT_HERE_REASON
    article = "an" if preset.label[:1].lower() in "aeiou" else "a"
    return f"Add {article} {preset.label} key"


def available_models(
    settings: Settings, own_keys: Collection[str] | None = None
) -> list[ModelOption]:
    """Models this server can serve (with the user's own keys for `own_keys`, provider ids or
    a provider → key mapping), in catalog order."""
    mine = {p for p in own_keys or () if p in PROVIDERS and PROVIDERS[p].needs_key}
    return [
        ModelOption(
            m.id, m.label, PROVIDERS[m.provider].label, m.context_window, m.vision, m.reasoning,
            own_key=m.provider in mine,
        )
        for m in all_models()
        if not not_served(settings, m, mine)
    ]


def protocols_served(settings: Settings) -> set[WireProtocol]:
    """The wire protocols of the models this server serves on its own keys."""
    return {PROVIDERS[m.provider].protocol for m in all_models() if not not_served(settings, m)}


def model_or_raise(model_id: str) -> ModelInfo:
    """The catalog entry, or ModelUnavailableError for a model this server does not know."""
    model = get_model(model_id)
    if model is None:
        raise ModelUnavailableError(
            f"unknown model {model_id!r}", user_message=f"Unknown model “{model_id}”."
        )
    return model


# resolve(settings, model_id, own_keys): what generation and titles get their adapter from.
ProviderResolver = Callable[[Settings, str, Mapping[str, str] | None], tuple[ModelInfo, Provider]]


def resolve(
    settings: Settings, model_id: str, own_keys: Mapping[str, str] | None = None
) -> tuple[ModelInfo, Provider]:
    """The model entry and a ready adapter, or ModelUnavailableError saying why not.

    With the user's own key for the model's provider in `own_keys`, the adapter uses it;
    otherwise the server's key, as configured.
    """
    model = model_or_raise(model_id)
    creds = credentials(settings, model.provider, own_keys)
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
