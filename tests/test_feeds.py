"""Reply feeds: in process memory, and in a real Redis read from another worker's client."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest

from chatapp.feeds import Cursor, Delta, MemoryReplyFeeds, RedisReplyFeeds, ReplyFeeds
from chatapp.models.base import new_id

REDIS_URL = os.environ.get("CHATAPP_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="CHATAPP_TEST_REDIS_URL is not set: run the suite with `make test`"
)


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ReplyFeeds, ReplyFeeds]]:
    """A writer's feeds and a reader's: one object in memory, two clients (two workers) on
    Redis."""
    if request.param == "memory":
        feeds = MemoryReplyFeeds()
        yield feeds, feeds
        return
    assert REDIS_URL
    writer, reader = RedisReplyFeeds(REDIS_URL), RedisReplyFeeds(REDIS_URL)
    yield writer, reader
    for feeds in (writer, reader):
        await feeds.aclose()


async def _read_all(feeds: ReplyFeeds, message_id: str, cursor: Cursor,
                    stop: Callable[[Delta], bool], *, timeout: float = 0.5) -> Delta:
    """Read until `stop`, joining what came."""
    text, reasoning = [], []
    while True:
        delta = await feeds.read(message_id, cursor, timeout=timeout)
        assert delta is not None
        text.append(delta.text)
        reasoning.append(delta.reasoning)
        cursor = delta.cursor
        if stop(delta):
            return Delta("".join(text), "".join(reasoning), cursor, delta.ended)


async def test_a_reader_gets_each_piece_once_and_the_end(
    pair: tuple[ReplyFeeds, ReplyFeeds],
) -> None:
    writer, reader = pair
    reply = new_id()
    assert await reader.read(reply, Cursor(), timeout=0) is None  # no feed: not streaming here
    await writer.start(reply)
    waiting = await reader.read(reply, Cursor(), timeout=0.05)
    assert waiting is not None and waiting.empty  # it exists, nothing in it yet

    pieces = ["Hé", "llo 🌍", "", " wörld\n\n", "- a\n"]
    cursor = Cursor()
    seen: list[str] = []
    for piece in pieces:
        await writer.append(reply, piece, "thinking " if piece else "")
        delta = await _read_all(reader, reply, cursor, lambda d: True, timeout=0)
        seen.append(delta.text)
        cursor = delta.cursor
    assert seen == pieces  # exactly what was new each time, an empty piece included
    await writer.end(reply, "complete")
    last = await reader.read(reply, cursor, timeout=1)
    assert last is not None and (last.text, last.ended) == ("", "complete")
    assert (cursor.text, cursor.reasoning) == (len("".join(pieces)), len("thinking ") * 4)


async def test_a_reader_coming_back_gets_what_it_missed_and_nothing_twice(
    pair: tuple[ReplyFeeds, ReplyFeeds],
) -> None:
    writer, reader = pair
    reply = new_id()
    await writer.start(reply)
    await writer.append(reply, "one ", "r1 ")
    first = await reader.read(reply, Cursor(), timeout=0)
    assert first is not None and first.text == "one "
    # The reader goes away (a network blip) while two more pieces come.
    await writer.append(reply, "two ", "")
    await writer.append(reply, "three", "r2")
    # Back with its cursor as an SSE id, parsed again: the rest, once.
    again = Cursor.parse(first.cursor.token())
    assert again == first.cursor
    rest = await _read_all(reader, reply, again, lambda d: d.empty, timeout=0)
    assert (rest.text, rest.reasoning) == ("two three", "r2")
    # Back without a cursor (a reload): everything so far; without the entry id (a cursor
    # that only counts characters) the same rest.
    whole = await _read_all(reader, reply, Cursor(), lambda d: d.empty, timeout=0)
    assert (whole.text, whole.reasoning) == ("one two three", "r1 r2")
    counted = Cursor(first.cursor.text, first.cursor.reasoning)
    rest = await _read_all(reader, reply, counted, lambda d: d.empty, timeout=0)
    assert (rest.text, rest.reasoning) == ("two three", "r2")


async def test_a_waiting_reader_wakes_when_text_comes(
    pair: tuple[ReplyFeeds, ReplyFeeds],
) -> None:
    writer, reader = pair
    reply = new_id()
    await writer.start(reply)
    first = await reader.read(reply, Cursor(), timeout=0)
    assert first is not None

    async def later() -> None:
        await asyncio.sleep(0.1)
        await writer.append(reply, "late", "")

    task = asyncio.create_task(later())
    loop = asyncio.get_running_loop()
    started = loop.time()
    delta = await reader.read(reply, first.cursor, timeout=5)
    await task
    assert delta is not None and delta.text == "late"
    assert loop.time() - started < 2  # woken by the write, not by the timeout


@pytest.mark.parametrize("token", ["", "x", "-1.0", "1.2.3", "1.2.abc", "9" * 12 + ".0",
                                   "1.2.3-4\nevent: end"])
def test_a_malformed_cursor_reads_from_the_start(token: str) -> None:
    assert Cursor.parse(token) == Cursor()


def test_a_cursor_round_trips_as_an_sse_id() -> None:
    for cursor in (Cursor(), Cursor(12, 3), Cursor(5, 0, "1733150000000-7")):
        assert Cursor.parse(cursor.token()) == cursor
        assert "\n" not in cursor.token()
