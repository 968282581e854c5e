"""Builds the adapter for a provider preset: its wire protocol names the adapter class."""

from __future__ import annotations

import importlib

from chatapp.errors import ModelUnavailableError
from chatapp.providers.base import Provider, tls_context
from chatapp.providers.catalog import ProviderPreset, WireProtocol

# protocol → (module, class). Imported on first use: each SDK takes a second or more to import,
# so only the one in use is loaded.
ADAPTERS: dict[WireProtocol, tuple[str, str]] = {
    "openai": ("chatapp.providers.openai_compat", "OpenAICompatibleProvider"),
    "anthropic": ("chatapp.providers.anthropic", "AnthropicProvider"),
}


def adapter_class(protocol: WireProtocol) -> type[Provider]:
    if protocol not in ADAPTERS:
        raise ModelUnavailableError(f"unknown wire protocol {protocol!r}")
    module, name = ADAPTERS[protocol]
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Provider)
    return cls


def warm_up(protocols: set[WireProtocol]) -> None:
    """Import the adapters of `protocols` now (at start, in a thread) rather than in the first
    reply, which paid about a second for the SDK's import, and build the TLS context their
    clients share (about 90 ms more)."""
    for protocol in sorted(protocols):
        adapter_class(protocol)
    if protocols:
        tls_context()


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
        # Keyless presets (local servers) have no public default; the SDK's would be wrong.
        raise ModelUnavailableError(
            f"no base URL configured for {preset.id}",
            user_message=f"{preset.label} is not set up: configure its address.",
        )
    adapter = adapter_class(preset.protocol)
    return adapter(base_url=url, api_key=api_key, timeout=timeout)  # type: ignore[call-arg]
