"""Forgets a tab's state when its session cookie changes (sign-out, or another user signs in).

A tab keeps its Reflex token across page loads (sessionStorage), so without this the first
state sent after a reload would still hold the previous user's messages and sessions.
"""

from __future__ import annotations

from functools import cache

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import State
from reflex_base.constants import CompileVars
from reflex_base.event import Event
from reflex_base.utils.format import format_event_handler

from chatapp.services import identity
from chatapp.state.account import AccountState
from chatapp.state.chat import ChatState
from chatapp.state.keys import KeysState
from chatapp.state.live import LiveState
from chatapp.state.sidebar import SidebarState
from chatapp.state.signin import SignInState

USER_STATES = (ChatState, LiveState, SidebarState, AccountState, SignInState, KeysState)


class SessionKeyState(rx.State):
    """Which session this tab's state belongs to (a hash, backend only)."""

    _session_key: str = ""


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
        token = identity.token_from_cookie_header(state.router.headers.cookie)
        key = identity.hash_token(token) if token else ""
        holder = await state.get_state(SessionKeyState)
        if holder._session_key != key:
            for cls in USER_STATES:
                (await state.get_state(cls)).reset()
            holder._session_key = key
        return None
