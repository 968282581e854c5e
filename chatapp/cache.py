"""Cross-request signals (stop a generation) in Redis when configured, else in process memory."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Protocol

from chatapp.config import get_settings

STOP_TTL_SECONDS = 3600


class StopSignals(Protocol):
    async def request(self, message_id: str) -> None: ...
    async def is_requested(self, message_id: str) -> bool: ...
    async def clear(self, message_id: str) -> None: ...


class MemoryStopSignals:
    """One process only: enough for the default single-worker run."""

    def __init__(self) -> None:
        self._requested: dict[str, float] = {}

    async def request(self, message_id: str) -> None:
        now = time.monotonic()
        self._requested = {k: t for k, t in self._requested.items() if now - t < STOP_TTL_SECONDS}
        self._requested[message_id] = now

    async def is_requested(self, message_id: str) -> bool:
        return message_id in self._requested

    async def clear(self, message_id: str) -> None:
        self._requested.pop(message_id, None)


class RedisStopSignals:
    """Shared by every worker, so Stop works whichever worker runs the generation."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # imported lazily: only needed when configured

        self._redis = redis.Redis.from_url(url)

    @staticmethod
    def _key(message_id: str) -> str:
        return f"chatapp:stop:{message_id}"

    async def request(self, message_id: str) -> None:
        await self._redis.set(self._key(message_id), b"1", ex=STOP_TTL_SECONDS)

    async def is_requested(self, message_id: str) -> bool:
        return bool(await self._redis.exists(self._key(message_id)))

    async def clear(self, message_id: str) -> None:
        await self._redis.delete(self._key(message_id))

    async def aclose(self) -> None:
        await self._redis.aclose()


@lru_cache
def get_stop_signals() -> StopSignals:
    url = get_settings().redis_url
    return RedisStopSignals(url) if url else MemoryStopSignals()
