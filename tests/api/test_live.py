"""The live feed of a reply as server-sent events: what a tab reads while a reply streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from sqlalchemy.engine import Engine
from sqlmodel import Session

from chatapp.api.live import events
from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.feeds import Cursor, MemoryReplyFeeds
from chatapp.models import Message, MessageStatus
from chatapp.providers.base import Finish, TextDelta, Usage
from chatapp.services.chat import generation
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import make_user, send, settle


def _parse(lines: list[str]) -> list[tuple[str, str, dict[str, str]]]:
    """(event, id, data) of each SSE event (comments and `retry` left out)."""
    found = []
    for block in "".join(lines).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], fields.get("id", ""), json.loads(fields["data"])))
    return found


async def _collect(stream: AsyncIterator[str], *, until_end: bool = True,
                   timeout: float = 10.0) -> list[str]:
    lines: list[str] = []

    async def read() -> None:
        async for line in stream:
            lines.append(line)
            if not until_end and "event: delta" in line:
                return

    await asyncio.wait_for(read(), timeout)
    return lines


async def test_a_reply_reaches_its_reader_piece_by_piece_then_ends(
    engine: Engine, session: Session, settings: Settings
) -> None:
    user_id = make_user(session)
    turn = send(session, settings, user_id, "Say hello")
    words = [TextDelta(w) for w in ("Hello", ", ", "wörld", " 🌍", "!\n\nBye.")]
    provider = ScriptedProvider([*words, Usage(input_tokens=3, output_tokens=5),
                                 Finish("stop")], delay=0.06)
    feeds = MemoryReplyFeeds()
    reader = asyncio.create_task(_collect(events(feeds, user_id, turn.assistant_message_id,
                                                 Cursor())))
    snap = await generation.generate_reply(
        turn.assistant_message_id, settings=settings, stop_signals=MemoryStopSignals(),
        feeds=feeds, resolve=resolver(provider))
    got = _parse(await reader)

    deltas = [data["t"] for kind, _, data in got if kind == "delta"]
    assert "".join(deltas) == snap.text == "Hello, wörld 🌍!\n\nBye."
    assert len(deltas) >= 3  # batch by batch, not all at the end
    assert got[-1] == ("end", "", {"status": "complete"})
    ids = [Cursor.parse(i) for kind, i, _ in got if kind == "delta"]
    assert [c.text for c in ids] == [len("".join(deltas[:n + 1])) for n in range(len(deltas))]


async def test_a_reader_reconnecting_with_its_last_id_gets_only_the_rest(
    engine: Engine, session: Session, settings: Settings
) -> None:
    user_id = make_user(session)
    turn = send(session, settings, user_id, "Count")
    feeds = MemoryReplyFeeds()
    reply = turn.assistant_message_id
    await feeds.start(reply)
    await feeds.append(reply, "one two ", "")
    first = _parse(await _collect(events(feeds, user_id, reply, Cursor()), until_end=False))
    [(_, last_id, data)] = first
    assert data["t"] == "one two "
    await feeds.append(reply, "three", "")
    await feeds.end(reply, "complete")
    rest = _parse(await _collect(events(feeds, user_id, reply, Cursor.parse(last_id))))
    assert [(k, d) for k, _, d in rest] == [("delta", {"t": "three", "r": ""}),
                                           ("end", {"status": "complete"})]


async def test_a_reply_with_no_feed_here_is_followed_from_its_checkpoints(
    engine: Engine, session: Session, settings: Settings
) -> None:
    """It streams on a worker that shares no feed with this one, or this server restarted."""
    user_id = make_user(session)
    turn = send(session, settings, user_id, "Elsewhere")
    reply = session.get(Message, turn.assistant_message_id)
    assert reply is not None
    reply.status, reply.content = MessageStatus.STREAMING, "saved so far"
    session.add(reply)
    session.commit()
    stream = events(MemoryReplyFeeds(), user_id, turn.assistant_message_id, Cursor())
    first = _parse(await _collect(stream, until_end=False))
    assert [(k, d["t"]) for k, _, d in first] == [("delta", "saved so far")]
    settle(session, turn.assistant_message_id, "saved so far, and the end")
    rest = _parse(await _collect(stream))
    assert [(k, d) for k, _, d in rest] == [("delta", {"t": ", and the end", "r": ""}),
                                           ("end", {"status": "complete"})]
