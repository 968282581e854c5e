"""OpenAICompatibleProvider through the real openai SDK, over HTTP, against the scripted server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from chatapp import errors
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
from chatapp.providers.openai_compat import OpenAICompatibleProvider
from tests.fakes.wire_scripts import text_pieces, thinking_pieces
from tests.fakes.wire_server import ScriptedServer
from tests.providers.conftest import collect, collect_until_error

API_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdefghijklmn"
MODEL = "scripted-model"


MakeProvider = Callable[..., OpenAICompatibleProvider]


@pytest.fixture
async def make_provider(wire_server: ScriptedServer) -> AsyncIterator[MakeProvider]:
    """Providers aimed at the scripted server unless told otherwise, closed after the test."""
    made: list[OpenAICompatibleProvider] = []

    def make(
        *, base_url: str | None = None, api_key: str | None = API_KEY, timeout: float = 60.0
    ) -> OpenAICompatibleProvider:
        made.append(
            OpenAICompatibleProvider(
                base_url=base_url or wire_server.base_url, api_key=api_key, timeout=timeout
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
    wire_server: ScriptedServer,
    make_provider: MakeProvider,
) -> None:
    request = StreamRequest(
        model=MODEL,
        messages=[
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Earlier question"),
            ChatMessage("assistant", "Earlier answer"),
            ChatMessage("user", "[[tokens=120]]"),
        ],
        max_tokens=500,
        temperature=0.3,
    )
    collected, events = await collect(make_provider(), request)

    assert collected.content == "".join(text_pieces(120))
    assert "```python" in collected.content  # the scripted reply exercises Markdown rendering
    assert sum(isinstance(e, TextDelta) for e in events) == 120
    # 2 + 2 + 2 + 1 words in the prompt; the adapter reports visible output apart from reasoning.
    assert collected.usage == Usage(input_tokens=7, output_tokens=120)
    assert events[0] == Accepted()  # first: the provider took the request
    assert events[-2:] == [collected.usage, Finish("stop")]

    sent = wire_server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == MODEL
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": "[[tokens=120]]"},
    ]
    assert sent.body["max_tokens"] == 500
    assert sent.body["temperature"] == 0.3
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert len(wire_server.requests) == 1  # no hidden retries


async def test_plain_message_is_echoed_and_optional_parameters_are_left_out(
    wire_server: ScriptedServer,
    make_provider: MakeProvider,
) -> None:
    collected, _ = await collect(make_provider(), ask("hello there, model"))

    assert collected.content == "Echo: hello there, model"
    assert collected.finish == Finish("stop")
    assert "max_tokens" not in wire_server.last_request.body
    assert "temperature" not in wire_server.last_request.body


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas_surface_before_the_answer(
    make_provider: MakeProvider, field: str
) -> None:
    request = ask(f"[[thinking=7 tokens=10 cached=1 reasoning_field={field}]]")
    collected, events = await collect(make_provider(), request)

    assert "".join(collected.reasoning) == "".join(thinking_pieces(7))
    assert collected.content == "".join(text_pieces(10))
    kinds = [type(e) for e in events if isinstance(e, (ReasoningDelta, TextDelta))]
    assert kinds == [ReasoningDelta] * 7 + [TextDelta] * 10
    # completion_tokens (17) includes reasoning; the adapter splits it so cost never counts twice.
    assert collected.usage == Usage(
        input_tokens=4, output_tokens=10, reasoning_tokens=7, cached_tokens=1
    )


async def test_max_tokens_cut_reports_length(make_provider: MakeProvider) -> None:
    collected, _ = await collect(make_provider(), ask("[[tokens=50]]", max_tokens=10))

    assert collected.content == "".join(text_pieces(50)[:10])
    assert collected.finish == Finish("length")


async def test_tool_call_deltas_are_accumulated(make_provider: MakeProvider) -> None:
    _, events = await collect(make_provider(), ask("[[tool_call=get_weather]]"))

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ToolCall("call_scripted", "get_weather", '{"city": "Paris", "unit": "celsius"}')
    ]
    assert events[-1] == Finish("tool_calls")


async def test_reasoning_models_get_max_completion_tokens_on_retry(
    wire_server: ScriptedServer,
    make_provider: MakeProvider,
) -> None:
    request = ask("[[require_max_completion_tokens tokens=5]]", max_tokens=20)
    collected, _ = await collect(make_provider(), request)

    assert collected.content == "".join(text_pieces(5))
    first, second = wire_server.requests
    assert first.status == 400 and first.body["max_tokens"] == 20
    assert "max_tokens" not in second.body and second.body["max_completion_tokens"] == 20


async def test_missing_key_sends_a_placeholder(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    keyless = make_provider(api_key=None)
    collected, _ = await collect(keyless, ask("hi"))

    assert collected.content == "Echo: hi"
    assert wire_server.last_request.headers["authorization"] == "Bearer not-needed"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, errors.ProviderAuthError),
        (403, errors.ProviderAuthError),
        (429, errors.ProviderRateLimitError),
        (500, errors.ProviderUnavailableError),
        (503, errors.ProviderUnavailableError),
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


async def test_401_body_echoing_the_key_is_redacted(make_provider: MakeProvider) -> None:
    _, exc = await collect_until_error(make_provider(), ask("[[status=401]]"))

    assert "Incorrect API key provided: [redacted]" in str(exc)
    assert not exc.retryable


async def test_unknown_model_is_a_bad_request_naming_the_model(
    make_provider: MakeProvider,
) -> None:
    _, exc = await collect_until_error(make_provider(), ask("[[status=404]]"))

    assert type(exc) is errors.ProviderBadRequestError
    assert MODEL in exc.user_message
    assert_key_hidden(exc)


async def test_context_overflow_is_a_context_length_error(make_provider: MakeProvider) -> None:
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


async def test_error_event_inside_the_stream_is_mapped(make_provider: MakeProvider) -> None:
    events, exc = await collect_until_error(make_provider(), ask("[[tokens=40 stream_error=3]]"))

    assert [e.text for e in events if isinstance(e, TextDelta)] == text_pieces(40)[:3]
    assert type(exc) is errors.ProviderUnavailableError
    assert_key_hidden(exc)


async def test_unreachable_server_is_unavailable_naming_the_host(
    make_provider: MakeProvider, closed_port: int
) -> None:
    nowhere = make_provider(base_url=f"http://127.0.0.1:{closed_port}/v1")
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
    wire_server: ScriptedServer,
    make_provider: MakeProvider,
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


async def test_tokens_arrive_as_paced_not_buffered(
    wire_server: ScriptedServer, make_provider: MakeProvider
) -> None:
    arrivals: list[float] = []
    async for event in make_provider().stream(ask("[[tokens=40 rate=100]]")):
        if isinstance(event, TextDelta):
            arrivals.append(time.monotonic())

    record = wire_server.last_request
    assert record.first_token_at is not None and record.last_token_at is not None
    assert 0.35 <= record.last_token_at - record.first_token_at <= 0.6  # 39 gaps of 10 ms
    assert arrivals[-1] - arrivals[0] >= 0.3


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
        await make_provider(base_url=f"http://127.0.0.1:{closed_port}/v1").check()
    assert exc.value.user_message == (
        f"Could not reach 127.0.0.1:{closed_port}. Is the provider running?")
