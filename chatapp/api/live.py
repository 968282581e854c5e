"""The feed of a streaming reply, as server-sent events: GET /api/live/<message_id>.

Only the owner's session reads it (anyone else gets 404, as for a reply that does not exist).
Each event carries only the text that is new (`event: delta`, `data: {"t": …, "r": …}`) and
an id saying how far the reader is; EventSource sends that id back when it reconnects
(`Last-Event-ID`) and the reader gets exactly what it missed. `event: end` closes the feed.
A reply with no feed here (it streams on a worker that shares none, or the server restarted)
is followed from the database's checkpoints instead, from the same place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from chatapp import db
from chatapp.api.security import own_origin
from chatapp.config import get_settings
from chatapp.errors import NotFoundError
from chatapp.feeds import Cursor, Delta, ReplyFeeds, get_reply_feeds
from chatapp.models import ACTIVE_STATUSES
from chatapp.services.chat import threads
from chatapp.services.identity import tokens

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing the feed
FEEDLESS_POLL_SECONDS = 0.1  # how often a reply with no feed (yet) looks for one
CHECKPOINT_POLL_SECONDS = 1.0  # and reads the database meanwhile
RETRY_MS = 1000  # EventSource's pause before reconnecting
_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


async def _owner(request: Request) -> str | None:
    token = tokens.token_from_cookie_header(request.headers.get("cookie"))
    if not token:
        return None
    secret = get_settings().secret
    found = await db.run(lambda s: tokens.standing(s, token=token, secret=secret))
    return found.user_id if found.kind == "live" else None


async def live(request: Request) -> Response:
    message_id = request.path_params["message_id"]
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request.scope, dict(request.headers),
                                                   get_settings()):
        # Another site's page (EventSource sends Origin across sites, not within one).
        return PlainTextResponse("Forbidden", status_code=403)
    user_id = await _owner(request)
    if user_id is None:
        return PlainTextResponse("Not found", status_code=404)
    try:
        await db.run(lambda s: threads.get_message(s, user_id=user_id, message_id=message_id))
    except NotFoundError:
        return PlainTextResponse("Not found", status_code=404)
    cursor = Cursor.parse(request.headers.get("last-event-id"))
    return StreamingResponse(events(get_reply_feeds(), user_id, message_id, cursor),
                             media_type="text/event-stream", headers=_HEADERS)


async def events(feeds: ReplyFeeds, user_id: str, message_id: str,
                 cursor: Cursor) -> AsyncIterator[str]:
    """The feed from `cursor` until the reply ends, as SSE lines."""
    yield f"retry: {RETRY_MS}\n\n"
    last_checkpoint = float("-inf")
    while True:
        try:
            delta = await feeds.read(message_id, cursor, timeout=KEEPALIVE_SECONDS)
        except Exception as exc:  # Redis away: the database still knows the text
            log.info("feed of %s: %s", message_id, type(exc).__name__)
            delta = None
        if delta is None:
            now = time.monotonic()
            if now - last_checkpoint >= CHECKPOINT_POLL_SECONDS:
                last_checkpoint = now
                delta = await _from_checkpoint(user_id, message_id, cursor)
            if delta is None or delta.empty:
                await asyncio.sleep(FEEDLESS_POLL_SECONDS)
                continue
        if delta.text or delta.reasoning:
            cursor = delta.cursor
            data = json.dumps({"t": delta.text, "r": delta.reasoning}, ensure_ascii=False,
                              separators=(",", ":"))
            yield f"id: {cursor.token()}\nevent: delta\ndata: {data}\n\n"
        if delta.ended is not None:
            yield f"event: end\ndata: {json.dumps({'status': delta.ended})}\n\n"
            return
        if delta.empty:
            yield ": keepalive\n\n"


async def _from_checkpoint(user_id: str, message_id: str, cursor: Cursor) -> Delta | None:
    """What the stored reply holds past `cursor` (its last checkpoint, or its final text)."""
    try:
        msg, _ = await db.run(lambda s: threads.get_message(s, user_id=user_id,
                                                            message_id=message_id))
    except NotFoundError:
        return Delta("", "", cursor, ended="deleted")
    except Exception as exc:  # the database is away too: try again later
        log.info("checkpoint of %s: %s", message_id, type(exc).__name__)
        return None
    text, reasoning = msg.content[cursor.text:], msg.reasoning[cursor.reasoning:]
    ended = None if msg.status in ACTIVE_STATUSES else str(msg.status)
    moved = Cursor(cursor.text + len(text), cursor.reasoning + len(reasoning))
    return Delta(text, reasoning, moved, ended)


def build_live_app() -> Starlette:
    """The live feeds; Reflex mounts its own app beneath them."""
    return Starlette(routes=[Route("/api/live/{message_id}", live, methods=["GET"])])


__all__ = ["build_live_app", "events", "live"]
