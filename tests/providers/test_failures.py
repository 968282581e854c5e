"""The failure mapping both adapters share, called directly (no SDK, no server)."""

from __future__ import annotations

import socket

import httpx2
import pytest

from chatapp import errors
from chatapp.providers import failures

API_KEY = "custom-key-without-a-known-shape"
MARKERS = ("prompt is too long",)
REQUEST = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


class SdkTimeout(Exception):
    pass


class SdkConnection(Exception):
    pass


class SdkStatusError(Exception):
    def __init__(self, status: int | None, kind: failures.Kind, message: str) -> None:
        super().__init__(message)
        self.failure = failures.ApiFailure(status, kind, message)


def read(exc: BaseException) -> failures.ApiFailure | None:
    return exc.failure if isinstance(exc, SdkStatusError) else None


SDK = failures.SdkErrors(
    timeout_error=SdkTimeout, connection_error=SdkConnection, read=read, context_markers=MARKERS
)


def transport(exc: BaseException, *, streaming: bool = False) -> errors.ProviderError:
    return SDK.map(exc, host="127.0.0.1:9", api_key=API_KEY, streaming=streaming, model="m")


def test_redact_hides_the_key_and_key_shaped_text() -> None:
    text = f"{API_KEY} sk-{'a' * 20} gsk_{'b' * 20} AIza{'c' * 35} sk-short"

    assert failures.redact(text, API_KEY) == (
        "[redacted] [redacted] [redacted] [redacted] sk-short"
    )


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://api.openai.com/v1", "api.openai.com"),
        ("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
        ("http://user:secret@proxy.local:3128/v1", "proxy.local:3128"),
        ("not a url", "the provider"),
    ],
)
def test_host_of_names_host_and_port_only(base_url: str, host: str) -> None:
    assert failures.host_of(base_url) == host


def test_describe_adds_a_different_cause_and_redacts_both() -> None:
    exc = SdkConnection(f"failed with {API_KEY}")
    exc.__cause__ = OSError(f"refused {API_KEY}")

    detail = failures.describe(exc, API_KEY)

    assert detail == "SdkConnection: failed with [redacted] (OSError: refused [redacted])"


def test_refused_connection_before_streaming_says_the_host_is_unreachable() -> None:
    exc = SdkConnection("Connection error.")
    exc.__cause__ = httpx2.ConnectError("[Errno 111] Connection refused", request=REQUEST)

    error = transport(exc)

    assert type(error) is errors.ProviderUnavailableError
    assert error.user_message == "Could not reach 127.0.0.1:9. Is the provider running?"
    assert type(transport(exc, streaming=True)) is errors.ProviderConnectionError


def test_dns_failure_found_through_a_cyclic_context_chain() -> None:
    exc = SdkConnection("Connection error.")
    dns = socket.gaierror("Name or service not known")
    exc.__context__, dns.__context__ = dns, exc

    assert failures.never_connected(exc)
    assert not failures.never_connected(SdkConnection("reset by peer"))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SdkTimeout("slow"), errors.ProviderTimeoutError),
        (httpx2.ReadTimeout("slow", request=REQUEST), errors.ProviderTimeoutError),
        (httpx2.ReadError("reset", request=REQUEST), errors.ProviderConnectionError),
        (SdkConnection("reset"), errors.ProviderConnectionError),
    ],
)
def test_timeouts_and_lost_connections(exc: BaseException, expected: type) -> None:
    assert type(transport(exc)) is expected


def test_anything_else_is_a_plain_provider_error() -> None:
    error = transport(ValueError(f"odd {API_KEY}"))

    assert type(error) is errors.ProviderError
    assert str(error) == "ValueError: odd [redacted]"


def test_api_errors_are_read_by_the_adapter_and_redacted() -> None:
    error = transport(SdkStatusError(400, "refused", f"bad key {API_KEY}"))

    assert type(error) is errors.ProviderBadRequestError
    assert error.status_code == 400
    assert error.user_message == "The provider refused the request: bad key [redacted]"
    assert API_KEY not in str(error)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (401, "", errors.ProviderAuthError),
        (None, "auth", errors.ProviderAuthError),
        (429, "", errors.ProviderRateLimitError),
        (503, "", errors.ProviderUnavailableError),
        (None, "unavailable", errors.ProviderUnavailableError),
        (408, "", errors.ProviderTimeoutError),
        (None, "timeout", errors.ProviderTimeoutError),
        (None, "context", errors.ContextLengthError),
        (422, "", errors.ProviderBadRequestError),
        (None, "refused", errors.ProviderBadRequestError),
        (None, "", errors.ProviderError),
    ],
)
def test_error_for_status_or_kind(
    status: int | None, kind: failures.Kind, expected: type[errors.ProviderError]
) -> None:
    error = failures.error_for(status, kind, "nope", "detail", model="m", context_markers=MARKERS)

    assert type(error) is expected
    assert error.status_code == status


def test_quota_and_refusal_and_unknown_model_messages() -> None:
    quota = failures.error_for(429, "quota", "", "d", model="m", context_markers=MARKERS)
    refused = failures.error_for(400, "", "bad field", "d", model="m", context_markers=MARKERS)
    named = failures.error_for(404, "", "", "d", model="gpt-x", context_markers=MARKERS)
    unnamed = failures.error_for(None, "model", "", "d", model="", context_markers=MARKERS)

    assert quota.user_message == failures.QUOTA_MESSAGE
    assert refused.user_message == "The provider refused the request: bad field"
    assert named.user_message == "The provider does not offer the model 'gpt-x'."
    assert unnamed.user_message == "The provider does not offer this model."


@pytest.mark.parametrize(
    ("outage_first", "expected"),
    [(False, errors.ContextLengthError), (True, errors.ProviderUnavailableError)],
)
def test_outage_first_decides_a_server_error_that_mentions_overflow(
    outage_first: bool, expected: type[errors.ProviderError]
) -> None:
    error = failures.error_for(
        500,
        "",
        "Prompt is too long",
        "d",
        model="m",
        context_markers=MARKERS,
        outage_first=outage_first,
    )

    assert type(error) is expected
