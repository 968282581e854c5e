"""Builds the adapter for a provider preset, chosen by its wire protocol."""

from __future__ import annotations

from chatapp.errors import ModelUnavailableError
from chatapp.providers.base import Provider
from chatapp.providers.catalog import ProviderPreset


def build_provider(
    preset: ProviderPreset,
    *,
    api_key: str | None,
    base_url: str | None = None,
    timeout: float = 60.0,
) -> Provider:
    """An adapter for `preset`; `base_url` (from settings) overrides the preset's default.

    Raises ModelUnavailableError when the preset cannot work as configured, before any network.
    """
    url = base_url or preset.base_url
    if preset.needs_key and not api_key:
        raise ModelUnavailableError(
            f"no API key configured for {preset.id}",
            user_message=f"{preset.label} is not set up: add its API key in settings.",
        )
    if url is None and not preset.needs_key:
        # Keyless presets (local, Ollama) have no public default; the SDK's would be wrong.
        raise ModelUnavailableError(
            f"no base URL configured for {preset.id}",
            user_message=f"{preset.label} is not set up: configure its address.",
        )
    # Imported here: each SDK takes a second or more to import; load only the one in use.
    if preset.protocol == "anthropic":
        from chatapp.providers.anthropic import AnthropicProvider

        return AnthropicProvider(base_url=url, api_key=api_key, timeout=timeout)
    if preset.protocol == "openai":
        from chatapp.providers.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(base_url=url, api_key=api_key, timeout=timeout)
    raise ModelUnavailableError(f"unknown wire protocol {preset.protocol!r} for {preset.id}")
