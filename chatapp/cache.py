"""Cross-request signals (stop a generation) and rate limits, in Redis when configured, else in
process memory."""

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


class RateLimiter(Protocol):
    async def allow(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Count one event under `key`; False once `limit` were counted in this window."""
        ...


class MemoryRateLimiter:
    """Fixed windows in process memory (one worker)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def allow(self, key: str, *, limit: int, window_seconds: int) -> bool:
        window = int(time.time() // window_seconds)
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
        count = self._counts.get((key, window), 0) + 1
        self._counts[(key, window)] = count
        return count <= limit


class RedisRateLimiter:
    """Fixed windows in Redis, shared by every worker: INCR, and the key expires with its
    window."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)

    async def allow(self, key: str, *, limit: int, window_seconds: int) -> bool:
        window = int(time.time() // window_seconds)
        name = f"chatapp:rate:{key}:{window}"
        count = await self._redis.incr(name)
        if count == 1:
            await self._redis.expire(name, window_seconds + 5)
        return int(count) <= limit

    async def aclose(self) -> None:
        await self._redis.aclose()


@lru_cache
def get_rate_limiter() -> RateLimiter:
    url = get_settings().redis_url
    return RedisRateLimiter(url) if url else MemoryRateLimiter()
