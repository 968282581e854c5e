"""Who is behind an event: the user of the HttpOnly session cookie, never a client-sent id."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import tzinfo

import reflex as rx

from chatapp import db
from chatapp.config import get_settings
from chatapp.errors import ChatappError, SessionExpiredError
from chatapp.services.chat import threads
from chatapp.services.identity import addresses, tokens, visitors

_CACHE_SECONDS = 5.0
# token hash -> (user id, cached at). Short-lived so a revoked session stops working quickly.
_cache: dict[str, tuple[str, float]] = {}
# What `reader_id` gives a visitor who is not a user yet: no row is ever stored under it, so
# every lookup with it finds nothing of anyone's.
VISITOR = ""

__all__ = ["VISITOR", "SessionExpiredError", "client_ip", "current_user_id",
           "forget_cached_sessions", "reader_id", "reader_or_notice", "user_or_notice"]


async def current_user_id(state: rx.State) -> str:
    """The session's user id, for a handler that stores something: a visitor becomes an
    anonymous user now. SessionExpiredError, or TooManyVisitorsError past the per-address
    limit on new anonymous users."""
    return await _resolve(state, create=True)


async def reader_id(state: rx.State) -> str:
    """For a handler that only reads: the session's user id, or VISITOR for a visitor who
    has not needed a user yet (nothing is created). SessionExpiredError as above."""
    return await _resolve(state, create=False)


def local_zone(state: rx.State) -> tzinfo:
    """The time zone the tab's browser reported (a cookie chat.js sets), UTC without one."""
    return threads.zone_named(tokens.cookie_value(state.router.headers.cookie,
                                                  threads.ZONE_COOKIE))


async def _resolve(state: rx.State, *, create: bool) -> str:
    token = tokens.token_from_cookie_header(state.router.headers.cookie)
    if not token:
        raise SessionExpiredError("no session cookie")
    key = tokens.hash_token(token)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit and now - hit[1] < _CACHE_SECONDS:
        return hit[0]
    settings = get_settings()
    found = await db.run(lambda s: tokens.standing(s, token=token, secret=settings.secret))
    user_id = found.user_id
    if user_id is None:
        _cache.pop(key, None)
        if found.kind != "visitor":
            raise SessionExpiredError(f"session {found.kind}")
        if not create:
            return VISITOR
        user_id = await visitors.become_user(
            settings, token=token, user_agent=state.router.headers.user_agent,
            client_ip=client_ip(state))
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (user_id, now)
    return user_id


def client_ip(state: rx.State) -> str:
    """The browser's address, through the trusted proxies (CHATAPP_TRUSTED_PROXY_HOPS)."""
    return addresses.client_ip(dict(state.router.headers.raw_headers),
                             state.router.session.client_ip, get_settings().trusted_proxy_hops)


def forget_cached_sessions() -> None:
    """Drop this worker's cache after sessions were revoked, so they stop working at once."""
    _cache.clear()


async def user_or_notice(state: rx.State) -> str | None:
    """The session's user id (made now for a visitor); else the reason goes to the state's
    `notice` and None returns."""
    return await _or_notice(state, current_user_id)


async def reader_or_notice(state: rx.State) -> str | None:
    """As user_or_notice, for pages that only read: VISITOR for a visitor, nothing made."""
    return await _or_notice(state, reader_id)


async def _or_notice(state: rx.State,
                     resolve: Callable[[rx.State], Awaitable[str]]) -> str | None:
    try:
        return await resolve(state)
    except ChatappError as exc:
        state.notice = exc.user_message  # type: ignore[attr-defined]
        return None
