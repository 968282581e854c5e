"""Adapter for OpenAI-compatible chat completions (OpenAI, Gemini, OpenRouter, Groq, llama.cpp)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from chatapp import errors
from chatapp.providers.base import (
    Event,
    Finish,
    ReasoningDelta,
    StreamRequest,
    TextDelta,
    ToolCall,
    Usage,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Servers phrase context overflow differently: OpenAI/vLLM/Groq, llama.cpp, Ollama, OpenRouter.
CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "too many tokens",
    "prompt is too long",
    "prompt too long",
    "reduce the length",
)
# Key shapes of OpenAI/Anthropic/OpenRouter (sk-...), Groq (gsk_...) and Google (AIza...).
KEY_LIKE = re.compile(r"\b(?:sk-|gsk_)[A-Za-z0-9_-]{16,}|\bAIza[A-Za-z0-9_-]{30,}")


def _redact(text: str, api_key: str | None) -> str:
    """Remove the key (and anything key-shaped) from text that may reach logs or users."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return KEY_LIKE.sub("[redacted]", text)


def _host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    # hostname/port only: a base URL may carry user:password@ and that must not leak.
    if not parts.hostname:
        return "the provider"
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_connect_failure(exc: BaseException) -> bool:
    """True when no connection was ever made (refused, DNS failure), as opposed to a lost one."""
    return any(
        isinstance(e, (httpx2.ConnectError, ConnectionRefusedError, socket.gaierror))
        for e in _causes(exc)
    )


@dataclass(slots=True)
class _PendingToolCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAICompatibleProvider:
    """Streams chat completions from any server that speaks the OpenAI wire protocol."""

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 60.0) -> None:
        # Explicit values everywhere: the SDK would otherwise read OPENAI_* environment variables.
        self._base_url = base_url or DEFAULT_BASE_URL
        self._api_key = api_key
        self._host = _host_of(self._base_url)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed",  # local servers ignore it, the SDK insists on one
            base_url=self._base_url,
            timeout=timeout,
            max_retries=0,  # retrying is the caller's decision, with the user watching
        )

    async def aclose(self) -> None:
        """Close pooled connections; otherwise the SDK closes them from __del__ on some loop."""
        await self._client.close()

    async def stream(self, request: StreamRequest) -> AsyncIterator[Event]:
        stream = await self._open(request)
        tools: dict[int, _PendingToolCall] = {}
        usage: Usage | None = None
        finish: str | None = None
        chunks = 0
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices[:1]:
                    for event in _deltas(choice.delta, tools):
                        chunks += isinstance(event, TextDelta | ReasoningDelta)
                        yield event
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except (openai.APIError, httpx2.RequestError, json.JSONDecodeError) as exc:
            raise self._map(exc, streaming=True) from None
        finally:
            # Runs on aclose() too, so an abandoned reply stops the server generating it.
            await stream.close()
        if finish is None:
            # A proxy can end the body cleanly mid-reply; without finish_reason it is truncated.
            raise errors.ProviderConnectionError(f"stream from {self._host} ended before finishing")
        for call in tools.values():
            yield ToolCall(id=call.id, name=call.name, arguments="".join(call.arguments))
        # Some servers (llama-cpp-python's) ignore include_usage while streaming; they send
        # one token per chunk, so counting chunks is a fair estimate that keeps usage honest.
        yield usage or _estimated_usage(request, chunks)
        yield Finish(finish)

    async def _open(self, request: StreamRequest) -> openai.AsyncStream[ChatCompletionChunk]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens is not None:
            # `max_tokens` is what llama.cpp, Ollama and most compatible servers understand.
            params["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        try:
            try:
                return await self._client.chat.completions.create(**params)
            except openai.BadRequestError as exc:
                # OpenAI's reasoning models refuse `max_tokens`; retry once with the new name.
                if "max_tokens" not in params or "max_completion_tokens" not in exc.message:
                    raise
                params["max_completion_tokens"] = params.pop("max_tokens")
                return await self._client.chat.completions.create(**params)
        except (openai.APIError, httpx2.RequestError) as exc:
            raise self._map(exc, streaming=False, model=request.model) from None

    def _map(self, exc: BaseException, *, streaming: bool, model: str = "") -> errors.ProviderError:
        """Translate an SDK or transport failure into chatapp's error, never quoting the key."""
        detail = _redact(f"{type(exc).__name__}: {exc}", self._api_key)
        cause = exc.__cause__
        if cause is not None and str(cause) != str(exc):
            detail += _redact(f" ({type(cause).__name__}: {cause})", self._api_key)
        if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
            return errors.ProviderTimeoutError(detail)
        if isinstance(exc, (openai.APIConnectionError, httpx2.RequestError)):
            if not streaming and _is_connect_failure(exc):
                return errors.ProviderUnavailableError(
                    f"Could not reach {self._host}: {detail}",
                    user_message=f"Could not reach {self._host}. Is the provider running?",
                )
            return errors.ProviderConnectionError(detail)
        if isinstance(exc, json.JSONDecodeError):
            return errors.ProviderError(f"malformed stream from {self._host}: {detail}")
        if not isinstance(exc, openai.APIError):
            return errors.ProviderError(detail)
        body = exc.body if isinstance(exc.body, dict) else {}
        message = _redact(str(body.get("message") or exc.message), self._api_key)
        kind = f"{body.get('type') or ''} {body.get('code') or ''}".lower()
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        return _error_for(status, kind, message, detail, model=model)


def _error_for(
    status: int | None, kind: str, message: str, detail: str, *, model: str
) -> errors.ProviderError:
    """Status first; the body's type/code covers errors sent inside a 200 stream."""
    lowered = message.lower()
    if status in (401, 403) or "invalid_api_key" in kind or "authentication" in kind:
        return errors.ProviderAuthError(detail, status_code=status)
    if status == 429 or "rate_limit" in kind or "insufficient_quota" in kind:
        if "insufficient_quota" in kind:
            return errors.ProviderRateLimitError(
                detail,
                status_code=status,
                user_message="The provider account is out of quota or credit.",
            )
        return errors.ProviderRateLimitError(detail, status_code=status)
    if "context_length" in kind or any(marker in lowered for marker in CONTEXT_MARKERS):
        return errors.ContextLengthError(detail, status_code=status)
    if status == 404 or "model_not_found" in kind:
        return errors.ProviderBadRequestError(
            detail,
            status_code=status,
            user_message=f"The provider does not offer the model {model!r}."
            if model
            else "The provider does not offer this model.",
        )
    if status == 408:
        return errors.ProviderTimeoutError(detail, status_code=status)
    if (status is not None and status >= 500) or "server_error" in kind or "overloaded" in kind:
        return errors.ProviderUnavailableError(detail, status_code=status)
    if status is not None and 400 <= status < 500:
        return errors.ProviderBadRequestError(
            detail,
            status_code=status,
            user_message=f"The provider refused the request: {message[:300]}",
        )
    return errors.ProviderError(detail, status_code=status)


def _deltas(delta: Any, tools: dict[int, _PendingToolCall]) -> Iterator[Event]:
    # DeepSeek and llama.cpp send `reasoning_content`, OpenRouter `reasoning`; neither is typed.
    extra = delta.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        yield ReasoningDelta(reasoning)
    if delta.content:
        yield TextDelta(delta.content)
    if delta.refusal:
        yield TextDelta(delta.refusal)
    for call in delta.tool_calls or ():
        pending = tools.setdefault(call.index, _PendingToolCall())
        pending.id = call.id or pending.id
        if call.function is not None:
            pending.name = call.function.name or pending.name
            if call.function.arguments:
                pending.arguments.append(call.function.arguments)


def _estimated_usage(request: StreamRequest, chunks: int) -> Usage:
    prompt_chars = sum(len(m.content) for m in request.messages)
    return Usage(input_tokens=max(1, prompt_chars // 4), output_tokens=chunks, estimated=True)


def _usage(usage: Any) -> Usage:
    """completion_tokens includes reasoning; split it out so cost never counts it twice."""
    reasoning = getattr(usage.completion_tokens_details, "reasoning_tokens", None) or 0
    cached = getattr(usage.prompt_tokens_details, "cached_tokens", None) or 0
    completion = usage.completion_tokens or 0
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=max(0, completion - reasoning),
        reasoning_tokens=reasoning,
        cached_tokens=cached,
    )
