"""Forgets a tab's state when its session cookie changes (sign-out, or another user signs in).

A tab keeps its Reflex token across page loads (sessionStorage), so without this the first
state sent after a reload would still hold the previous user's messages and sessions.
"""

from __future__ import annotations

from functools import cache

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState, State
from reflex_base.constants import CompileVars
from reflex_base.event import Event
from reflex_base.utils.format import format_event_handler

from chatapp import db
from chatapp.config import get_settings
from chatapp.services.identity import tokens


class SessionKeyState(rx.State):
    """Which session this tab's state belongs to (a hash, backend only)."""

    _session_key: str = ""


# The states that hold nothing of a user's: the guard's own bookkeeping. Every other state of
# chatapp's is reset when a tab's session changes: found by walking the state tree, so a state
# added later is covered without anyone remembering to list it.
HOLD_NO_USER_DATA: frozenset[type[BaseState]] = frozenset({SessionKeyState})


@cache
def user_states() -> tuple[type[BaseState], ...]:
    """Every chatapp state in the tree but those of HOLD_NO_USER_DATA (Reflex's own states
    hold router data and flags, never a user's)."""
    found: list[type[BaseState]] = []
    stack: list[type[BaseState]] = [State]
    while stack:
        cls = stack.pop()
        stack.extend(cls.get_substates())
        if cls.__module__.startswith("chatapp.") and cls not in HOLD_NO_USER_DATA:
            found.append(cls)
    return tuple(sorted(found, key=lambda c: c.get_full_name()))


@cache
def _page_load_events() -> frozenset[str]:
    """The events a tab sends when it (re)connects after a page load."""
    return frozenset(
        format_event_handler(State.event_handlers[name])
        for name in (CompileVars.HYDRATE, CompileVars.HYDRATE_AND_LOAD)
    )


class SessionGuard(Middleware):
    async def preprocess(self, app, state, event: Event):  # type: ignore[no-untyped-def]
        if event.name not in _page_load_events():
            return None  # the cookie can only change with a new connection, i.e. a page load
        token = tokens.token_from_cookie_header(state.router.headers.cookie)
        key = tokens.hash_token(token) if token else ""
        holder = await state.get_state(SessionKeyState)
        # A session that ended (signed out, revoked, expired) shows nothing either, even to
        # the same tab with the same cookie: what it holds is someone's who has left.
        if holder._session_key != key or (key and not await _still_usable(token or "")):
            for cls in user_states():
                (await state.get_state(cls)).reset()
            holder._session_key = key
        return None


async def _still_usable(token: str) -> bool:
    secret = get_settings().secret
    return (await db.run(lambda s: tokens.standing(s, token=token, secret=secret))).usable
