"""Adapter for OpenAI-compatible chat completions (OpenAI, Gemini, OpenRouter, Groq, llama.cpp)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from chatapp import errors
from chatapp.providers import failures
from chatapp.providers.base import (
    Accepted,
    Event,
    Finish,
    Provider,
    ReasoningDelta,
    StreamRequest,
    TextDelta,
    ToolCall,
    Usage,
    estimate_tokens,
    tls_context,
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
# Substrings of an error body's "type code", in the order failures.error_for weighs them.
ERROR_KINDS: tuple[tuple[str, failures.Kind], ...] = (
    ("invalid_api_key", "auth"),
    ("authentication", "auth"),
    ("insufficient_quota", "quota"),
    ("rate_limit", "rate_limit"),
    ("context_length", "context"),
    ("model_not_found", "model"),
    ("server_error", "unavailable"),
    ("overloaded", "unavailable"),
)


def _kind(type_and_code: str) -> failures.Kind:
    return next((kind for needle, kind in ERROR_KINDS if needle in type_and_code), "")


def _read_error(exc: BaseException) -> failures.ApiFailure | None:
    if not isinstance(exc, openai.APIError):
        return None
    body = exc.body if isinstance(exc.body, dict) else {}
    kind = _kind(f"{body.get('type') or ''} {body.get('code') or ''}".lower())
    # Errors sent inside a 200 stream have no status; the body's type/code covers them.
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    return failures.ApiFailure(status, kind, str(body.get("message") or exc.message))


_SDK_ERRORS = failures.SdkErrors(
    timeout_error=openai.APITimeoutError,
    connection_error=openai.APIConnectionError,
    read=_read_error,
    context_markers=CONTEXT_MARKERS,
)


@dataclass(slots=True)
class _PendingToolCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAICompatibleProvider(Provider):
    """Streams chat completions from any server that speaks the OpenAI wire protocol."""

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 60.0) -> None:
        # Explicit values everywhere: the SDK would otherwise read OPENAI_* environment variables.
        self._base_url = base_url or DEFAULT_BASE_URL
        self._api_key = api_key
        self._host = failures.host_of(self._base_url)
        self._client = openai.AsyncOpenAI(
            http_client=openai.DefaultAsyncHttpxClient(verify=tls_context()),
            api_key=api_key or "not-needed",  # local servers ignore it, the SDK insists on one
            base_url=self._base_url,
            timeout=timeout,
            max_retries=0,  # retrying is the caller's decision, with the user watching
        )

    async def aclose(self) -> None:
        """Close pooled connections; otherwise the SDK closes them from __del__ on some loop."""
        await self._client.close()

    async def check(self) -> None:
        """List models (GET /models): the cheapest request that needs a valid key."""
        try:
            await self._client.models.list()
        except (openai.APIError, httpx2.RequestError) as exc:
            raise self._map(exc, streaming=False) from None

    async def stream(self, request: StreamRequest) -> AsyncGenerator[Event, None]:
        stream = await self._open(request)
        yield Accepted()
        tools: dict[int, _PendingToolCall] = {}
        usage: Usage | None = None
        finish: str | None = None
        chunks = 0
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in (chunk.get("choices") or ())[:1]:
                    delta = choice.get("delta")
                    if isinstance(delta, dict):
                        for event in _deltas(delta, tools):
                            chunks += isinstance(event, TextDelta | ReasoningDelta)
                            yield event
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
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

    async def _open(self, request: StreamRequest) -> openai.AsyncStream[Any]:
        """The SDK sends the request (authentication, timeouts, error statuses, an error sent
        inside the stream) and decodes the server-sent events; each chunk comes back as the
        parsed JSON, not as the SDK's objects, which cost most of the CPU of a reply."""
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

        async def create() -> openai.AsyncStream[Any]:
            return await self._client.post("/chat/completions", body=params, cast_to=object,
                                           stream=True, stream_cls=openai.AsyncStream[object])

        try:
            try:
                return await create()
            except openai.BadRequestError as exc:
                # OpenAI's reasoning models refuse `max_tokens`; retry once with the new name.
                if "max_tokens" not in params or "max_completion_tokens" not in exc.message:
                    raise
                params["max_completion_tokens"] = params.pop("max_tokens")
                return await create()
        except (openai.APIError, httpx2.RequestError) as exc:
            raise self._map(exc, streaming=False, model=request.model) from None

    def _map(self, exc: BaseException, *, streaming: bool, model: str = "") -> errors.ProviderError:
        """Translate a failure into chatapp's error; bad JSON in the stream is this adapter's."""
        if isinstance(exc, json.JSONDecodeError):
            detail = failures.describe(exc, self._api_key)
            return errors.ProviderError(f"malformed stream from {self._host}: {detail}")
        return _SDK_ERRORS.map(
            exc, host=self._host, api_key=self._api_key, streaming=streaming, model=model
        )


def _deltas(delta: dict[str, Any], tools: dict[int, _PendingToolCall]) -> Iterator[Event]:
    # DeepSeek and llama.cpp send `reasoning_content`, OpenRouter `reasoning`.
    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        yield ReasoningDelta(reasoning)
    content = delta.get("content")
    if isinstance(content, str) and content:
        yield TextDelta(content)
    refusal = delta.get("refusal")
    if isinstance(refusal, str) and refusal:
        yield TextDelta(refusal)
    for call in delta.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        pending = tools.setdefault(call.get("index") or 0, _PendingToolCall())
        pending.id = call.get("id") or pending.id
        function = call.get("function")
        if isinstance(function, dict):
            pending.name = function.get("name") or pending.name
            if function.get("arguments"):
                pending.arguments.append(function["arguments"])


def _estimated_usage(request: StreamRequest, chunks: int) -> Usage:
    prompt_chars = sum(len(m.content) for m in request.messages)
    return Usage(input_tokens=max(1, estimate_tokens(prompt_chars)), output_tokens=chunks,
                 estimated=True)


def _usage(usage: Any) -> Usage:
    """completion_tokens includes reasoning; split it out so cost never counts it twice."""
    if not isinstance(usage, dict):
        return Usage()
    reasoning = _count(usage.get("completion_tokens_details"), "reasoning_tokens")
    cached = _count(usage.get("prompt_tokens_details"), "cached_tokens")
    completion = _count(usage, "completion_tokens")
    return Usage(
        input_tokens=_count(usage, "prompt_tokens"),
        output_tokens=max(0, completion - reasoning),
        reasoning_tokens=reasoning,
        cached_tokens=cached,
    )


def _count(found: Any, key: str) -> int:
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, int) and value > 0 else 0
