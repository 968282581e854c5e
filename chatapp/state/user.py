"""Who is behind an event: the user of the HttpOnly session cookie, never a client-sent id."""

from __future__ import annotations

import time

import reflex as rx

from chatapp import db
from chatapp.errors import ChatappError
from chatapp.services import identity

_CACHE_SECONDS = 5.0
# token hash -> (user id, cached at). Short-lived so a revoked session stops working quickly.
_cache: dict[str, tuple[str, float]] = {}


class SessionExpiredError(ChatappError):
    user_message = "Your session has expired. Reload the page to continue."


async def current_user_id(state: rx.State) -> str:
    """The session's user id, or SessionExpiredError."""
    token = identity.token_from_cookie_header(state.router.headers.cookie)
    if not token:
        raise SessionExpiredError("no session cookie")
    key = identity.hash_token(token)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit and now - hit[1] < _CACHE_SECONDS:
        return hit[0]
    user_id = await db.run(lambda s: identity.user_for_token(s, token=token))
    if user_id is None:
        _cache.pop(key, None)
        raise SessionExpiredError("session not live")
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (user_id, now)
    return user_id


def forget_cached_sessions() -> None:
    """Drop this worker's cache after sessions were revoked, so they stop working at once."""
    _cache.clear()


async def user_or_notice(state: rx.State) -> str | None:
    """The session's user id; else the reason goes to the state's `notice` and None returns."""
    try:
        return await current_user_id(state)
    except ChatappError as exc:
        state.notice = exc.user_message  # type: ignore[attr-defined]
        return None
