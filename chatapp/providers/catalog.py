"""The model catalog as data: provider presets and model entries with capabilities and prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WireProtocol = Literal["openai", "anthropic"]
Access = Literal["public", "signed_in", "pro"]  # who may use a model on the server's keys


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    """A service chatapp can talk to, and where its configuration lives, all as data: adding
    an OpenAI-compatible service is one preset (plus its models and its two documented
    settings), no code.

    A keyed preset is configured when `CHATAPP_<PREFIX>_API_KEY` is set; `_BASE_URL` points it
    elsewhere. A keyless one (local servers) is configured when it has an address: its
    `_BASE_URL` setting, or `base_url` here; `enabled_setting` can switch it off.
    """

    id: str
    label: str
    protocol: WireProtocol
    base_url: str | None  # the service's public endpoint; None: only where the operator says
    needs_key: bool = True
    settings_prefix: str = ""  # default: the id (CHATAPP_OPENAI_API_KEY, ...)
    enabled_setting: str | None = None  # a bool setting that turns the preset off

    @property
    def prefix(self) -> str:
        return self.settings_prefix or self.id

    @property
    def key_setting(self) -> str | None:
        """The Settings field holding the server's key (None: the preset takes no key)."""
        return f"{self.prefix}_api_key" if self.needs_key else None

    @property
    def url_setting(self) -> str:
        """The Settings field (or property) holding the endpoint the operator configured."""
        return f"{self.prefix}_base_url"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model users can pick. `id` is chatapp's stable id: '<provider>/<api_model>'."""

    provider: str
    api_model: str
    label: str
    context_window: int
    vision: bool = False
    reasoning: bool = False
    tools: bool = False
    input_price: float = 0.0  # USD per million input tokens
    output_price: float = 0.0  # USD per million output tokens (reasoning tokens too)
    access: Access = "public"

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.api_model}"


PROVIDERS: dict[str, ProviderPreset] = {
    p.id: p
    for p in (
        # The embedded model: Settings.local_model_base_url is made from its host and port.
        ProviderPreset("local", "Local model", "openai", None, needs_key=False,
                       settings_prefix="local_model", enabled_setting="local_model_enabled"),
        ProviderPreset("openai", "OpenAI", "openai", "https://api.openai.com/v1"),
        ProviderPreset("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com"),
        ProviderPreset(
            "google",
            "Google Gemini",
            "openai",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            settings_prefix="gemini",
        ),
        ProviderPreset("openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1"),
        ProviderPreset("groq", "Groq", "openai", "https://api.groq.com/openai/v1"),
        ProviderPreset("ollama", "Ollama", "openai", None, needs_key=False),
    )
}

MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("local", "smollm2-135m", "SmolLM2 135M (local)", 2048),
    ModelInfo("openai", "gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, vision=True, tools=True,
              input_price=0.40, output_price=1.60),
    ModelInfo("openai", "gpt-4.1", "GPT-4.1", 1_047_576, vision=True, tools=True,
              input_price=2.00, output_price=8.00, access="signed_in"),
    ModelInfo("openai", "o4-mini", "o4-mini", 200_000, vision=True, reasoning=True, tools=True,
              input_price=1.10, output_price=4.40, access="signed_in"),
    ModelInfo("anthropic", "claude-sonnet-4-5", "Claude Sonnet 4.5", 200_000, vision=True,
              reasoning=True, tools=True, input_price=3.00, output_price=15.00, access="pro"),
    ModelInfo("anthropic", "claude-haiku-4-5", "Claude Haiku 4.5", 200_000, vision=True,
              reasoning=True, tools=True, input_price=1.00, output_price=5.00, access="signed_in"),
    ModelInfo("google", "gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, vision=True,
              reasoning=True, tools=True, input_price=0.30, output_price=2.50),
    ModelInfo("google", "gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, vision=True,
              reasoning=True, tools=True, input_price=1.25, output_price=10.00, access="pro"),
    ModelInfo("openrouter", "deepseek/deepseek-r1", "DeepSeek R1 (OpenRouter)", 163_840,
              reasoning=True, input_price=0.40, output_price=2.00, access="signed_in"),
    ModelInfo("openrouter", "meta-llama/llama-3.3-70b-instruct", "Llama 3.3 70B (OpenRouter)",
              131_072, tools=True, input_price=0.13, output_price=0.40),
    ModelInfo("groq", "llama-3.3-70b-versatile", "Llama 3.3 70B (Groq)", 131_072, tools=True,
              input_price=0.59, output_price=0.79),
    ModelInfo("ollama", "llama3.2", "Llama 3.2 (Ollama)", 131_072),
)

MODELS_BY_ID: dict[str, ModelInfo] = {m.id: m for m in MODELS}


def all_models() -> tuple[ModelInfo, ...]:
    """Every catalog model, in picker order (read at call time: the catalog is the one list)."""
    return MODELS


def get_model(model_id: str) -> ModelInfo | None:
    return MODELS_BY_ID.get(model_id)


def key_providers() -> tuple[str, ...]:
    """Providers that take an API key, in catalog order (local servers take none)."""
    return tuple(p.id for p in PROVIDERS.values() if p.needs_key)
