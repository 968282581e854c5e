"""Fixtures for provider tests: a scripted wire server per test, and stream helpers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from chatapp.errors import ProviderError
from chatapp.providers.base import Event, Provider, StreamCollector, StreamRequest
from tests.fakes.wire_server import ScriptedServer


@pytest.fixture
def wire_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def collect(
    provider: Provider, request: StreamRequest
) -> tuple[StreamCollector, list[Event]]:
    collector, events = StreamCollector(), []
    async for event in provider.stream(request):
        collector.add(event)
        events.append(event)
    return collector, events


async def collect_until_error(
    provider: Provider, request: StreamRequest
) -> tuple[list[Event], ProviderError]:
    """Events yielded before the stream failed, and the error; fails the test if none was raised."""
    events: list[Event] = []
    stream: AsyncIterator[Event] = provider.stream(request)
    try:
        async for event in stream:
            events.append(event)
    except ProviderError as exc:
        return events, exc
    raise AssertionError(f"stream finished without an error after {len(events)} events")
