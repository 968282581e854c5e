"""Failure handling the provider adapters share: key redaction, reachability and error classes."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import httpx2

from chatapp import errors

# Key shapes of OpenAI/Anthropic/OpenRouter (sk-...), Groq (gsk_...) and Google (AIza...).
KEY_LIKE = re.compile(r"\b(?:sk-|gsk_)[A-Za-z0-9_-]{16,}|\bAIza[A-Za-z0-9_-]{30,}")
QUOTA_MESSAGE = "The provider account is out of quota or credit."

# What an adapter makes of an error body's type/code; "" when it says nothing usable.
Kind = Literal[
    "", "auth", "rate_limit", "quota", "context", "model", "timeout", "unavailable", "refused"
]


def redact(text: str, api_key: str | None) -> str:
    """Remove the key (and anything key-shaped) from text that may reach logs or users."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return KEY_LIKE.sub("[redacted]", text)


def host_of(base_url: str) -> str:
    """`host[:port]` for messages about reaching the provider."""
    parts = urlsplit(base_url)
    # hostname/port only: a base URL may carry user:password@ and that must not leak.
    if not parts.hostname:
        return "the provider"
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def describe(exc: BaseException, api_key: str | None) -> str:
    """The exception and its cause (when that says more) as one redacted line for `detail`."""
    detail = redact(f"{type(exc).__name__}: {exc}", api_key)
    cause = exc.__cause__
    if cause is not None and str(cause) != str(exc):
        detail += redact(f" ({type(cause).__name__}: {cause})", api_key)
    return detail


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def never_connected(exc: BaseException) -> bool:
    """True when no connection was ever made (refused, DNS failure), as opposed to a lost one."""
    return any(
        isinstance(e, (httpx2.ConnectError, ConnectionRefusedError, socket.gaierror))
        for e in _causes(exc)
    )


class ApiFailure(NamedTuple):
    """What an adapter reads from its SDK's API error (status is None mid-stream)."""

    status: int | None
    kind: Kind
    message: str


@dataclass(frozen=True, slots=True)
class SdkErrors:
    """What differs between the SDKs' failures; `map` does the rest the same way for all."""

    timeout_error: type[BaseException]  # httpx2's timeouts count as well
    connection_error: type[BaseException]  # and so do httpx2's request errors
    read: Callable[[BaseException], ApiFailure | None]  # None: not an API error
    context_markers: tuple[str, ...]  # phrases that mean the context overflowed
    outage_first: bool = False  # see error_for

    def map(
        self,
        exc: BaseException,
        *,
        host: str,
        api_key: str | None,
        streaming: bool,
        model: str = "",
    ) -> errors.ProviderError:
        """Translate an SDK or transport failure into chatapp's error, never quoting the key."""
        detail = describe(exc, api_key)
        if isinstance(exc, (self.timeout_error, httpx2.TimeoutException)):
            return errors.ProviderTimeoutError(detail)
        if isinstance(exc, (self.connection_error, httpx2.RequestError)):
            # Before streaming, a connection never made means the provider is not there.
            if not streaming and never_connected(exc):
                return errors.ProviderUnavailableError(
                    f"Could not reach {host}: {detail}",
                    user_message=f"Could not reach {host}. Is the provider running?",
                )
            return errors.ProviderConnectionError(detail)
        failure = self.read(exc)
        if failure is None:
            return errors.ProviderError(detail)
        return error_for(
            failure.status,
            failure.kind,
            redact(failure.message, api_key),
            detail,
            model=model,
            context_markers=self.context_markers,
            outage_first=self.outage_first,
        )


def error_for(
    status: int | None,
    kind: Kind,
    message: str,
    detail: str,
    *,
    model: str,
    context_markers: tuple[str, ...],
    outage_first: bool = False,
) -> errors.ProviderError:
    """The typed error for a provider's error response or in-stream error event.

    `status` is None for an error inside a 200 stream, where `kind` is all there is.
    `message` is the provider's own, already redacted; `context_markers` are the phrases
    that mean the context overflowed. With `outage_first` a server error or timeout is
    decided before those phrases and an unknown model are looked at; without, after.
    """
    server_error = kind == "unavailable" or (status is not None and status >= 500)
    timed_out = kind == "timeout" or status == 408
    if kind == "auth" or status in (401, 403):
        return errors.ProviderAuthError(detail, status_code=status)
    if kind in ("rate_limit", "quota") or status == 429:
        quota = QUOTA_MESSAGE if kind == "quota" else None
        return errors.ProviderRateLimitError(detail, status_code=status, user_message=quota)
    if outage_first and server_error:
        return errors.ProviderUnavailableError(detail, status_code=status)
    if outage_first and timed_out:
        return errors.ProviderTimeoutError(detail, status_code=status)
    lowered = message.lower()
    if kind == "context" or any(marker in lowered for marker in context_markers):
        return errors.ContextLengthError(detail, status_code=status)
    if kind == "model" or status == 404:
        return errors.ProviderBadRequestError(
            detail,
            status_code=status,
            user_message=f"The provider does not offer the model {model!r}."
            if model
            else "The provider does not offer this model.",
        )
    if timed_out:
        return errors.ProviderTimeoutError(detail, status_code=status)
    if server_error:
        return errors.ProviderUnavailableError(detail, status_code=status)
    if kind == "refused" or (status is not None and 400 <= status < 500):
        return errors.ProviderBadRequestError(
            detail,
            status_code=status,
            user_message=f"The provider refused the request: {message[:300]}" if message else None,
        )
    return errors.ProviderError(detail, status_code=status)
