"""AnthropicProvider through the real anthropic SDK, over HTTP, against the scripted server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from chatapp import errors
from chatapp.providers.anthropic import AnthropicProvider
from chatapp.providers.base import (
    Accepted,
    ChatMessage,
    Finish,
    ReasoningDelta,
    StreamRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from tests.fakes.wire_scripts import text_pieces, thinking_pieces
from tests.fakes.wire_server import ScriptedServer
from tests.providers.conftest import collect, collect_until_error

API_KEY = "sk-ant-test-DO-NOT-LEAK-0123456789abcdefghijkl"
MODEL = "claude-scripted"

MakeProvider = Callable[..., AnthropicProvider]


@pytest.fixture
async def make_provider(wire_server: ScriptedServer) -> AsyncIterator[MakeProvider]:
    """Providers aimed at the scripted server unless told otherwise, closed after the test."""
    made: list[AnthropicProvider] = []

    def make(
        *, base_url: str | None = None, api_key: str | None = API_KEY, timeout: float = 60.0
    ) -> AnthropicProvider:
        made.append(
            AnthropicProvider(
                base_url=base_url or wire_server.anthropic_base_url,
                api_key=api_key,
                timeout=timeout,
            )
        )
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


def ask(text: str, **kwargs: object) -> StreamRequest:
    return StreamRequest(model=MODEL, messages=[ChatMessage("user", text)], **kwargs)  # type: ignore[arg-type]


def assert_key_hidden(exc: errors.ProviderError) -> None:
    for text in (str(exc), repr(exc), exc.user_message, str(exc.args)):
        assert API_KEY not in text


async def test_streams_text_usage_and_finish_and_sends_the_request(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    request = StreamRequest(
        model=MODEL,
        messages=[
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Earlier question"),
            ChatMessage("assistant", "Earlier answer"),
            ChatMessage("user", "Also this."),
            ChatMessage("user", "[[tokens=120 cached=2]]"),
        ],
        temperature=0.3,
    )
    collected, events = await collect(make_provider(), request)

    assert collected.content == "".join(text_pieces(120))
    assert sum(isinstance(e, TextDelta) for e in events) == 120
    # 2 + 2 + 2 + 2 + 2 prompt words; Anthropic reports cached reads apart, chatapp inside input.
    assert collected.usage == Usage(input_tokens=10, output_tokens=120, cached_tokens=2)
    assert events[0] == Accepted()  # first: the provider took the request
    assert events[-2:] == [collected.usage, Finish("stop")]

    sent = wire_server.last_request
    assert sent.path == "/v1/messages"
    # anthropic SDK 2.x sends the key as a bearer token (older SDKs used x-api-key)
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert "anthropic-version" in sent.headers
    assert sent.body["model"] == MODEL
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": "Earlier answer"},
        # consecutive user turns are merged: the API wants alternating roles
        {"role": "user", "content": "Also this.\n\n[[tokens=120 cached=2]]"},
    ]
    assert sent.body["max_tokens"] == 1024  # required by the API; the default when unset
    assert sent.body["temperature"] == 0.3  # sent through extra_body: SDK 1.x dropped the argument
    assert sent.body["stream"] is True
    assert "thinking" not in sent.body
    assert len(wire_server.requests) == 1  # no hidden retries


async def test_empty_turns_are_dropped_so_the_api_accepts_the_history(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    request = StreamRequest(
        model=MODEL,
        messages=[
            ChatMessage("user", "first"),
            ChatMessage("assistant", ""),  # e.g. the placeholder of a failed reply
            ChatMessage("user", "second"),
        ],
        max_tokens=64,
    )
    collected, _ = await collect(make_provider(), request)

    assert collected.content == "Echo: first\n\nsecond"
    assert wire_server.last_request.body["messages"] == [
        {"role": "user", "content": "first\n\nsecond"}
    ]
    assert wire_server.last_request.body["max_tokens"] == 64


async def test_extended_thinking_surfaces_as_reasoning(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    request = ask(
        "[[thinking=8 tokens=12]]",
        reasoning=True,
        reasoning_budget_tokens=2000,
        max_tokens=1000,
        temperature=0.5,
    )
    collected, events = await collect(make_provider(), request)

    assert "".join(collected.reasoning) == "".join(thinking_pieces(8))
    assert collected.content == "".join(text_pieces(12))
    kinds = [type(e) for e in events if isinstance(e, (ReasoningDelta, TextDelta))]
    assert kinds == [ReasoningDelta] * 8 + [TextDelta] * 12
    assert collected.usage == Usage(input_tokens=2, output_tokens=12, reasoning_tokens=8)

    body = wire_server.last_request.body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 3000  # above the budget, or the API refuses the request
    assert "temperature" not in body  # thinking allows only the default


async def test_thinking_budget_is_raised_to_the_api_minimum(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    request = ask("[[thinking=2]]", reasoning=True, reasoning_budget_tokens=100)
    collected, _ = await collect(make_provider(), request)

    assert collected.reasoning
    assert wire_server.last_request.body["thinking"]["budget_tokens"] == 1024


async def test_no_thinking_unless_asked(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    collected, _ = await collect(make_provider(), ask("[[thinking=8 tokens=3]]"))

    assert collected.reasoning == []
    assert collected.content == "".join(text_pieces(3))


async def test_max_tokens_cut_reports_length(make_provider: MakeProvider) -> None:
    collected, _ = await collect(make_provider(), ask("[[tokens=50]]", max_tokens=10))

    assert collected.content == "".join(text_pieces(50)[:10])
    assert collected.finish == Finish("length")


async def test_tool_use_becomes_a_tool_call(make_provider: MakeProvider) -> None:
    _, events = await collect(make_provider(), ask("[[tool_call=get_weather]]"))

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ToolCall("toolu_scripted", "get_weather", '{"city": "Paris", "unit": "celsius"}')
    ]
    assert events[-1] == Finish("tool_calls")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, errors.ProviderAuthError),
        (403, errors.ProviderAuthError),
        (429, errors.ProviderRateLimitError),
        (500, errors.ProviderUnavailableError),
        (529, errors.ProviderUnavailableError),  # overloaded_error
    ],
)
async def test_http_errors_map_to_typed_errors_without_the_key(
    wire_server: ScriptedServer,
    make_provider: MakeProvider,
    status: int,
    error_type: type[errors.ProviderError],
) -> None:
    events, exc = await collect_until_error(make_provider(), ask(f"[[status={status}]]"))

    assert events == []
    assert type(exc) is error_type
    assert exc.status_code == status
    assert exc.user_message == error_type.user_message
    assert_key_hidden(exc)
    assert len(wire_server.requests) == 1  # max_retries=0: the caller decides about retrying


async def test_unknown_model_is_a_bad_request_naming_the_model(
    make_provider: MakeProvider,
) -> None:
    _, exc = await collect_until_error(make_provider(), ask("[[status=404]]"))

    assert type(exc) is errors.ProviderBadRequestError
    assert MODEL in exc.user_message
    assert_key_hidden(exc)


async def test_prompt_too_long_is_a_context_length_error(make_provider: MakeProvider) -> None:
    _, exc = await collect_until_error(make_provider(), ask("[[context_error]]"))

    assert type(exc) is errors.ContextLengthError
    assert exc.user_message == errors.ContextLengthError.user_message
    assert not exc.retryable
    assert_key_hidden(exc)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_stream_cut_mid_body_raises_connection_error_after_text(
    wire_server: ScriptedServer, make_provider: MakeProvider, reset: bool
) -> None:
    text = "[[tokens=40 drop_after=5 reset]]" if reset else "[[tokens=40 drop_after=5]]"
    events, exc = await collect_until_error(make_provider(), ask(text))

    # Accepted: the prompt was billed, though the reply was cut off.
    assert events == [Accepted(), *(TextDelta(piece) for piece in text_pieces(40)[:5])]
    assert type(exc) is errors.ProviderConnectionError
    assert exc.user_message == errors.ProviderConnectionError.user_message
    assert wire_server.last_request.dropped
    assert_key_hidden(exc)


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("overloaded_error", errors.ProviderUnavailableError),
        ("api_error", errors.ProviderUnavailableError),
        ("rate_limit_error", errors.ProviderRateLimitError),
    ],
)
async def test_error_event_inside_the_stream_maps_by_its_type(
    make_provider: MakeProvider, error_type: str, expected: type[errors.ProviderError]
) -> None:
    events, exc = await collect_until_error(
        make_provider(), ask(f"[[tokens=40 stream_error=3 error_type={error_type}]]")
    )

    assert [e.text for e in events if isinstance(e, TextDelta)] == text_pieces(40)[:3]
    assert type(exc) is expected
    assert exc.status_code is None  # the HTTP status was 200; the failure came later
    assert_key_hidden(exc)


async def test_unreachable_server_is_unavailable_naming_the_host(
    make_provider: MakeProvider, closed_port: int
) -> None:
    nowhere = make_provider(base_url=f"http://127.0.0.1:{closed_port}")
    _, exc = await collect_until_error(nowhere, ask("hi"))

    assert type(exc) is errors.ProviderUnavailableError
    assert exc.user_message == f"Could not reach 127.0.0.1:{closed_port}. Is the provider running?"
    assert_key_hidden(exc)


@pytest.mark.parametrize("directive", ["delay_first", "delay_headers"])
async def test_silence_longer_than_the_timeout_is_a_timeout(
    make_provider: MakeProvider, directive: str
) -> None:
    started = time.monotonic()
    _, exc = await collect_until_error(make_provider(timeout=0.3), ask(f"[[{directive}=3]]"))

    assert type(exc) is errors.ProviderTimeoutError
    assert time.monotonic() - started < 2


async def test_closing_the_stream_early_stops_the_server_sending(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    stream = make_provider().stream(ask("[[tokens=200 rate=100]]"))
    received = 0
    async for event in stream:
        received += isinstance(event, TextDelta)
        if received == 5:
            break
    await stream.aclose()  # type: ignore[attr-defined]

    record = wire_server.last_request
    assert record.wait(3), "server never noticed the client leaving"
    assert record.aborted and not record.completed
    assert record.tokens_sent < 15  # stopped within a few token intervals, not at 200


async def test_missing_key_sends_a_placeholder_not_the_environment(
    wire_server: ScriptedServer, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment-0123456789")
    collected, _ = await collect(make_provider(api_key=None), ask("hi"))

    assert collected.content == "Echo: hi"
    assert wire_server.last_request.headers["authorization"] == "Bearer not-needed"


# --- check: is the key good? -------------------------------------------------------------


async def test_check_passes_with_a_key_the_server_takes(
    make_provider: MakeProvider, wire_server: ScriptedServer
) -> None:
    wire_server.accepted_keys = frozenset({API_KEY})
    await make_provider().check()


async def test_check_with_a_refused_key_is_an_auth_error_without_the_key(
    make_provider: MakeProvider, wire_server: ScriptedServer
) -> None:
    wire_server.accepted_keys = frozenset({"sk-some-other-key-0123456789"})
    with pytest.raises(errors.ProviderAuthError) as exc:
        await make_provider().check()
    assert exc.value.status_code == 401
    assert_key_hidden(exc.value)


async def test_check_of_an_unreachable_server_names_the_host(
    make_provider: MakeProvider, closed_port: int
) -> None:
    with pytest.raises(errors.ProviderUnavailableError) as exc:
        await make_provider(base_url=f"http://127.0.0.1:{closed_port}").check()
    assert exc.value.user_message == (
        f"Could not reach 127.0.0.1:{closed_port}. Is the provider running?")
