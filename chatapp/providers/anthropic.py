"""Adapter for Anthropic's Messages API, with extended thinking surfaced as reasoning."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anthropic
import httpx2

from chatapp import errors
from chatapp.providers import failures
from chatapp.providers.base import (
    Accepted,
    ChatMessage,
    Event,
    Finish,
    Provider,
    ReasoningDelta,
    StreamRequest,
    TextDelta,
    ToolCall,
    Usage,
    tls_context,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 1024  # Anthropic requires max_tokens; the app usually passes its own
MIN_THINKING_BUDGET = 1024  # the API refuses smaller budgets
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
CONTEXT_MARKERS = ("prompt is too long", "context window", "context length", "too many tokens")
# An error body's `type` as failures.error_for reads it; mid-stream it is all there is.
ERROR_KINDS: dict[str, failures.Kind] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "rate_limit_error": "rate_limit",
    "overloaded_error": "unavailable",  # 529
    "api_error": "unavailable",
    "timeout_error": "timeout",
    "not_found_error": "model",
    "invalid_request_error": "refused",
    "request_too_large": "refused",
}


def to_anthropic(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """System text apart; consecutive same-role turns merged, since turns must alternate.

    Empty turns (a failed reply's placeholder) are dropped: the API refuses empty text.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system" or not message.content.strip():
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    return system, turns


def _read_error(exc: BaseException) -> failures.ApiFailure | None:
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    # An `error` event inside a 200 stream arrives as a status error with status 200.
    status = exc.status_code if exc.status_code >= 400 else None
    return failures.ApiFailure(status, ERROR_KINDS.get(exc.type or "", ""), exc.api_message or "")


# An outage (529 overloaded_error, api_error, any 5xx) or a timeout is taken as such here
# before the message is searched for context-overflow phrases.
_SDK_ERRORS = failures.SdkErrors(
    timeout_error=anthropic.APITimeoutError,
    connection_error=anthropic.APIConnectionError,
    read=_read_error,
    context_markers=CONTEXT_MARKERS,
    outage_first=True,
)


class AnthropicProvider(Provider):
    """Streams from the Messages API as raw server-sent events."""

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 60.0) -> None:
        self._api_key = api_key
        self._base_url = base_url or DEFAULT_BASE_URL
        self._host = failures.host_of(self._base_url)
        # Explicit key and URL: otherwise the SDK falls back to ANTHROPIC_* variables and
        # profile files on disk, which would make configuration invisible.
        self._client = anthropic.AsyncAnthropic(
            http_client=anthropic.DefaultAsyncHttpxClient(verify=tls_context()),
            api_key=api_key or "not-needed",
            base_url=self._base_url,
            timeout=timeout,
            max_retries=0,  # retrying is the caller's decision
        )

    async def aclose(self) -> None:
        """Close pooled connections; otherwise the SDK closes them from __del__ on some loop."""
        await self._client.close()

    def _params(self, request: StreamRequest) -> dict[str, Any]:
        system, turns = to_anthropic(request.messages)
        max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        params: dict[str, Any] = {"model": request.model, "messages": turns, "stream": True}
        if system:
            params["system"] = system
        if request.reasoning:
            budget = max(MIN_THINKING_BUDGET, request.reasoning_budget_tokens)
            params["thinking"] = {"type": "enabled", "budget_tokens": budget}
            if max_tokens <= budget:
                # max_tokens counts thinking too; keep the answer its own allowance on top.
                max_tokens += budget
            # Thinking only allows the default temperature, so a set one is left out.
        elif request.temperature is not None:
            # The API deprecates sampling parameters and newer models refuse them; models
            # that still take it get it.
            params["temperature"] = request.temperature
        params["max_tokens"] = max_tokens
        return params

    async def check(self) -> None:
        """List models (GET /v1/models): the cheapest request that needs a valid key."""
        try:
            await self._client.models.list()
        except (anthropic.APIError, httpx2.RequestError) as exc:
            raise self._map(exc, streaming=False, model="") from None

    async def stream(self, request: StreamRequest) -> AsyncGenerator[Event, None]:
        # The SDK sends the request (authentication, timeouts, error statuses, an `error`
        # event) and decodes the server-sent events; each event comes back as the parsed JSON,
        # not as the SDK's objects, which cost most of the CPU of a reply.
        try:
            stream = await self._client.post(
                "/v1/messages", body=self._params(request), cast_to=object, stream=True,
                stream_cls=anthropic.AsyncStream[object])
        except (anthropic.APIError, httpx2.RequestError) as exc:
            raise self._map(exc, streaming=False, model=request.model) from None
        yield Accepted()
        counts = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0, "thinking": 0}
        tools: dict[int, list[str]] = {}  # block index -> [id, name, json pieces...]
        stop: str | None = None
        finished = False
        try:
            async for event in stream:
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                if kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    piece = delta.get("type")
                    if piece == "text_delta" and delta.get("text"):
                        yield TextDelta(delta["text"])
                    elif piece == "thinking_delta" and delta.get("thinking"):
                        yield ReasoningDelta(delta["thinking"])
                    elif piece == "input_json_delta" and event.get("index") in tools:
                        tools[event["index"]].append(delta.get("partial_json") or "")
                elif kind == "message_start":
                    _count(counts, (event.get("message") or {}).get("usage"))
                elif kind == "content_block_start":
                    block = event.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        tools[event.get("index", 0)] = [block.get("id") or "",
                                                        block.get("name") or ""]
                elif kind == "content_block_stop" and event.get("index") in tools:
                    call_id, name, *pieces = tools.pop(event["index"])
                    yield ToolCall(id=call_id, name=name, arguments="".join(pieces) or "{}")
                elif kind == "message_delta":
                    stop = (event.get("delta") or {}).get("stop_reason") or stop
                    _count(counts, event.get("usage"))
                elif kind == "message_stop":
                    finished = True
        except (anthropic.APIError, httpx2.RequestError, json.JSONDecodeError) as exc:
            raise self._map(exc, streaming=True, model=request.model) from None
        finally:
            # Runs on aclose() too, so an abandoned reply stops the server generating it.
            await stream.close()
        if not finished:
            raise errors.ProviderConnectionError(
                f"stream from {self._host} ended before message_stop"
            )
        yield Usage(
            # chatapp counts cached prompt tokens inside input_tokens, as OpenAI does.
            input_tokens=counts["input"] + counts["cache_read"] + counts["cache_write"],
            output_tokens=max(0, counts["output"] - counts["thinking"]),
            reasoning_tokens=counts["thinking"],
            cached_tokens=counts["cache_read"],
        )
        yield Finish(STOP_REASONS.get(stop or "end_turn", stop or "stop"))

    def _map(self, exc: BaseException, *, streaming: bool, model: str) -> errors.ProviderError:
        return _SDK_ERRORS.map(
            exc, host=self._host, api_key=self._api_key, streaming=streaming, model=model
        )


def _count(counts: dict[str, int], usage: Any) -> None:
    """message_start and message_delta both carry usage; later non-null values win."""
    if not isinstance(usage, dict):
        return
    for key, field_name in (
        ("input", "input_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_write", "cache_creation_input_tokens"),
        ("output", "output_tokens"),
    ):
        value = usage.get(field_name)
        if isinstance(value, int):
            counts[key] = value
    details = usage.get("output_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
        counts["thinking"] = details["thinking_tokens"]
