"""Live replies as append-only feeds: the writer appends each batch of new text, any number of
readers (every tab of the user, on any worker) read what came after where they are.

In Redis (a stream per reply: XADD, XREAD from an id) when configured, so a reader on another
worker follows as closely as one beside the writer; else in process memory. A reader's place is
a `Cursor`: how much text and reasoning it has, and (Redis) the last entry it read. A reader
that comes back with its cursor (a reconnect, `Last-Event-ID`) gets exactly what it missed,
nothing twice; one without (a reload) gets everything so far.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from chatapp.config import get_settings

log = logging.getLogger(__name__)

ENDED_KEEP_SECONDS = 120.0  # an ended feed stays readable this long (a reload right after)
IDLE_KEEP_SECONDS = 3600.0  # a feed nobody appended to for this long is dropped (writer died)
_CURSOR = re.compile(r"^(\d{1,9})\.(\d{1,9})(?:\.(\d{1,20}-\d{1,20}))?$")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a reader is: characters of text and of reasoning it has (and, in Redis, the id of
    the last entry read, so the next read starts after it)."""

    text: int = 0
    reasoning: int = 0
    entry: str = ""

    def token(self) -> str:
        """As an SSE event id (what EventSource sends back as Last-Event-ID)."""
        base = f"{self.text}.{self.reasoning}"
        return f"{base}.{self.entry}" if self.entry else base

    @classmethod
    def parse(cls, token: str | None) -> Cursor:
        """A cursor from a client (anything malformed reads from the start)."""
        found = _CURSOR.match((token or "").strip())
        if not found:
            return cls()
        return cls(int(found.group(1)), int(found.group(2)), found.group(3) or "")


@dataclass(frozen=True, slots=True)
class Delta:
    text: str  # appended after the cursor read from
    reasoning: str
    cursor: Cursor  # where the reader is after it
    ended: str | None = None  # the reply's final status: nothing follows

    @property
    def empty(self) -> bool:
        return not self.text and not self.reasoning and self.ended is None


class ReplyFeeds(Protocol):
    async def start(self, message_id: str) -> None:
        """The reply is about to stream: readers from now on wait on its feed."""
        ...

    async def append(self, message_id: str, text: str, reasoning: str = "") -> None: ...

    async def end(self, message_id: str, status: str) -> None: ...

    async def read(self, message_id: str, cursor: Cursor, *, timeout: float) -> Delta | None:
        """What came after `cursor`, waiting up to `timeout` seconds when nothing has yet (an
        empty Delta then); None when there is no feed of this reply (it never streamed here,
        or ended long ago)."""
        ...


@dataclass(slots=True)
class _Feed:
    parts: list[str] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # text length after each part
    reasoning: list[str] = field(default_factory=list)
    reasoning_ends: list[int] = field(default_factory=list)
    status: str | None = None
    touched: float = field(default_factory=time.monotonic)
    news: asyncio.Event = field(default_factory=asyncio.Event)


def _after(parts: list[str], ends: list[int], offset: int) -> str:
    """The text past `offset` (reading only the parts it spans)."""
    if not ends or offset >= ends[-1]:
        return ""
    i = bisect.bisect_right(ends, offset)
    start = ends[i - 1] if i else 0
    return "".join(parts[i:])[offset - start:]


class MemoryReplyFeeds:
    """One process only: the default single-worker run."""

    def __init__(self) -> None:
        self._feeds: dict[str, _Feed] = {}

    def _prune(self) -> None:
        now = time.monotonic()
        gone = [k for k, f in self._feeds.items()
                if now - f.touched > (ENDED_KEEP_SECONDS if f.status else IDLE_KEEP_SECONDS)]
        for key in gone:
            del self._feeds[key]

    async def start(self, message_id: str) -> None:
        if message_id not in self._feeds:
            self._prune()
            self._feeds[message_id] = _Feed()

    async def append(self, message_id: str, text: str, reasoning: str = "") -> None:
        feed = self._feeds.get(message_id)
        if feed is None:
            self._prune()
            feed = self._feeds[message_id] = _Feed()
        if feed.status is not None:
            return
        if text:
            feed.parts.append(text)
            feed.ends.append((feed.ends[-1] if feed.ends else 0) + len(text))
        if reasoning:
            feed.reasoning.append(reasoning)
            feed.reasoning_ends.append(
                (feed.reasoning_ends[-1] if feed.reasoning_ends else 0) + len(reasoning))
        self._wake(feed)

    async def end(self, message_id: str, status: str) -> None:
        feed = self._feeds.setdefault(message_id, _Feed())
        if feed.status is None:
            feed.status = status
            self._wake(feed)

    @staticmethod
    def _wake(feed: _Feed) -> None:
        feed.touched = time.monotonic()
        feed.news.set()
        feed.news = asyncio.Event()

    async def read(self, message_id: str, cursor: Cursor, *, timeout: float) -> Delta | None:
        feed = self._feeds.get(message_id)
        if feed is None:
            return None
        delta = self._delta(feed, cursor)
        if delta.empty and timeout > 0:
            news = feed.news
            try:
                await asyncio.wait_for(news.wait(), timeout)
            except TimeoutError:
                return delta
            delta = self._delta(feed, cursor)
        return delta

    @staticmethod
    def _delta(feed: _Feed, cursor: Cursor) -> Delta:
        text = _after(feed.parts, feed.ends, cursor.text)
        reasoning = _after(feed.reasoning, feed.reasoning_ends, cursor.reasoning)
        moved = Cursor(cursor.text + len(text), cursor.reasoning + len(reasoning))
        return Delta(text, reasoning, moved, feed.status)


class RedisReplyFeeds:
    """A Redis stream per reply, shared by every worker: entries `t` (text), `r` (reasoning)
    and, last, `s` (the final status)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # imported lazily: only needed when configured

        self._redis = redis.Redis.from_url(url)

    @staticmethod
    def _key(message_id: str) -> str:
        return f"chatapp:feed:{message_id}"

    async def start(self, message_id: str) -> None:
        key = self._key(message_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"o": ""})  # an opening entry: the feed exists, nothing in it yet
            pipe.expire(key, int(IDLE_KEEP_SECONDS))
            await pipe.execute()

    async def append(self, message_id: str, text: str, reasoning: str = "") -> None:
        entry = {k: v for k, v in (("t", text), ("r", reasoning)) if v}
        if not entry:
            return
        key = self._key(message_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, entry)  # type: ignore[arg-type]
            pipe.expire(key, int(IDLE_KEEP_SECONDS))
            await pipe.execute()

    async def end(self, message_id: str, status: str) -> None:
        key = self._key(message_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"s": status})
            pipe.expire(key, int(ENDED_KEEP_SECONDS))
            await pipe.execute()

    async def read(self, message_id: str, cursor: Cursor, *, timeout: float) -> Delta | None:
        key = self._key(message_id)
        if cursor.entry:
            entries = await self._next(key, cursor.entry, timeout=0)
            if not entries and timeout > 0:
                entries = await self._next(key, cursor.entry, timeout=timeout)
                if not entries and not await self._redis.exists(key):
                    return None
            return _apply(cursor, entries, skip=False)
        entries = await self._redis.xrange(key, "-", "+")
        if not entries:
            return None
        return _apply(cursor, entries, skip=True)

    async def _next(self, key: str, after: str, *, timeout: float) -> list[Any]:
        block = int(timeout * 1000) if timeout > 0 else None
        found = await self._redis.xread({key: after}, block=block)
        return found[0][1] if found else []

    async def aclose(self) -> None:
        await self._redis.aclose()


def _apply(cursor: Cursor, entries: list[Any], *, skip: bool) -> Delta:
    """The entries past `cursor` as one Delta. With `skip` (a reader that has no entry id),
    every entry from the start is read and what the cursor already holds is skipped."""
    text, reasoning, status = [], [], None
    have_text = have_reasoning = 0
    entry = cursor.entry
    for entry_id, fields in entries:
        entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        t = fields.get(b"t", b"").decode()
        r = fields.get(b"r", b"").decode()
        if b"s" in fields:
            status = fields[b"s"].decode()
        if skip:  # keep only what lies past the cursor
            t, have_text = t[max(0, cursor.text - have_text):], have_text + len(t)
            r, have_reasoning = r[max(0, cursor.reasoning - have_reasoning):], (
                have_reasoning + len(r))
        text.append(t)
        reasoning.append(r)
    new_text, new_reasoning = "".join(text), "".join(reasoning)
    moved = Cursor(cursor.text + len(new_text), cursor.reasoning + len(new_reasoning), entry)
    return Delta(new_text, new_reasoning, moved, status)


class FeedWriter:
    """The reply's feed, given only what is new each time; a feed that fails (Redis away) is
    logged and left behind: the browser then follows the database's checkpoints."""

    def __init__(self, feeds: ReplyFeeds, message_id: str) -> None:
        self._feeds, self._message_id = feeds, message_id
        self._text = self._reasoning = 0  # characters sent

    async def start(self) -> None:
        await self._safely(self._feeds.start(self._message_id))

    async def offer(self, text: str, reasoning: str) -> None:
        new_text, new_reasoning = text[self._text:], reasoning[self._reasoning:]
        if new_text or new_reasoning:
            self._text, self._reasoning = len(text), len(reasoning)
            await self._safely(self._feeds.append(self._message_id, new_text, new_reasoning))

    async def end(self, text: str, reasoning: str, status: str) -> None:
        await self.offer(text, reasoning)
        await self._safely(self._feeds.end(self._message_id, status))

    async def _safely(self, step: Awaitable[None]) -> None:
        try:
            await step
        except Exception as exc:
            log.warning("feed of %s: %s", self._message_id, type(exc).__name__)


@lru_cache
def get_reply_feeds() -> ReplyFeeds:
    url = get_settings().redis_url
    return RedisReplyFeeds(url) if url else MemoryReplyFeeds()


__all__ = ["Cursor", "Delta", "FeedWriter", "MemoryReplyFeeds", "RedisReplyFeeds", "ReplyFeeds",
           "get_reply_feeds"]
