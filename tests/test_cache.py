"""Stop signals: in process memory, and in a real Redis shared by several workers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from chatapp.cache import MemoryStopSignals, RedisStopSignals, StopSignals
from chatapp.models.base import new_id

REDIS_URL = os.environ.get("CHATAPP_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="CHATAPP_TEST_REDIS_URL is not set: run the suite with `make test`"
)


@pytest.fixture
async def redis_workers() -> AsyncIterator[tuple[RedisStopSignals, RedisStopSignals]]:
    """Two independent clients, as two app workers would have."""
    assert REDIS_URL
    a, b = RedisStopSignals(REDIS_URL), RedisStopSignals(REDIS_URL)
    yield a, b
    for signals in (a, b):
        await signals.aclose()


async def _check_request_and_clear(signals: StopSignals) -> None:
    stopped, running = new_id(), new_id()
    assert not await signals.is_requested(stopped)
    await signals.request(stopped)
    assert await signals.is_requested(stopped)
    assert not await signals.is_requested(running)
    await signals.request(stopped)  # pressing Stop twice is harmless
    await signals.clear(stopped)
    assert not await signals.is_requested(stopped)
    await signals.clear(stopped)  # clearing what is not set is harmless too


async def test_memory_stop_signals() -> None:
    await _check_request_and_clear(MemoryStopSignals())


@needs_redis
async def test_redis_stop_signals(
    redis_workers: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    await _check_request_and_clear(redis_workers[0])


@needs_redis
async def test_a_stop_pressed_on_one_worker_reaches_the_worker_generating(
    redis_workers: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    web, generator = redis_workers
    message_id = new_id()
    assert not await generator.is_requested(message_id)

    await web.request(message_id)
    assert await generator.is_requested(message_id)

    await generator.clear(message_id)  # the generation ends and cleans up
    assert not await web.is_requested(message_id)
    assert not await generator.is_requested(message_id)
