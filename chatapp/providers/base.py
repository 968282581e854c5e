"""The streaming contract every provider adapter implements."""

from __future__ import annotations

import contextlib
import functools
import math
import ssl
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Literal, Self

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """One generation request. `model` is the provider's own model name."""

    model: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    temperature: float | None = None
    reasoning: bool = False  # ask for reasoning/thinking where the model supports it
    reasoning_budget_tokens: int = 1024


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the request (its response began): from here on it bills the prompt,
    even if no token follows. An adapter yields it once, first; a refused request (an HTTP
    error, no connection) raises without it."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


# Characters per token when a count must be estimated (before a request, or when a provider
# reports none): conservative for English prose and code. Real counts come back as usage.
CHARS_PER_TOKEN = 3.5


def estimate_tokens(chars: int) -> int:
    """About how many tokens `chars` characters are, rounded up."""
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    # True when the provider reported nothing and the adapter counted for itself.
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str = "stop"  # stop | length | tool_calls | content_filter | ...


Event = Accepted | TextDelta | ReasoningDelta | Usage | ToolCall | Finish


class Provider(ABC):
    """An adapter for one wire protocol: the whole contract, in the spirit of simonw/llm's
    `Model`. What a model can do is data on its catalog entry, not here.

    `stream` yields `Accepted` once the provider has taken the request, then events as they
    arrive, and raises a `chatapp.errors.ProviderError` subclass on failure (before or during
    the stream). Closing the stream early (``aclose``) must close the underlying HTTP
    response, so an abandoned reply stops the server generating it.
    """

    @abstractmethod
    def stream(self, request: StreamRequest) -> AsyncGenerator[Event, None]:
        """The events of one request, as they arrive."""

    @abstractmethod
    async def check(self) -> None:
        """Make one cheap authenticated request (listing models) to see the key works.

        Returns when it does; raises the same `ProviderError` subclasses as `stream`
        (`ProviderAuthError` for a wrong or revoked key), never quoting the key.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Close the adapter's HTTP client now, not from a finalizer on some other loop."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def close_quietly(provider: Provider) -> None:
    """Close an adapter once its request ended; a failure to close changes nothing for the
    request (its result and accounting stand)."""
    with contextlib.suppress(Exception):
        await provider.aclose()


@dataclass(slots=True)
class StreamCollector:
    """Accumulates a stream's events; handy for tests and non-streaming callers."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish: Finish | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish = event

    @property
    def content(self) -> str:
        return "".join(self.text)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context (httpx's default: the system's or certifi's roots, SSL_CERT_FILE
    honoured) for every provider client: building one costs tens of milliseconds of CPU, and
    each reply makes a client."""
    import httpx2

    return httpx2.create_ssl_context()
