"""Runs chatapp's real Reflex event handlers without a browser, one tab per user.

A `Tab` sends events the way Reflex's websocket does (`EventNamespace.on_event` in
reflex/app.py): an `Event` named "<state path>.<handler>" with the browser's route in
`router_data`, merged with what the socket's handshake fixed for the connection (headers,
including the HttpOnly `chatapp_session` cookie, which is all that identifies a user). The
events go through Reflex's own `BaseStateEventProcessor` over a `StateManagerMemory`, with the
app as middleware, so payload parsing, chained events and background tasks are the real ones.
Everything the processor would push to that tab (deltas and frontend events) is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from reflex.app import _decode_asgi_headers
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, OnLoadInternalState, State
from reflex.utils.token_manager import TokenManager
from reflex_base.constants import RouteVar
from reflex_base.event import Event, EventHandler
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.event.processor.future import EventFuture
from reflex_base.registry import RegistrationContext
from reflex_base.utils.format import format_event_handler, json_dumps

from chatapp.chatapp import app
from chatapp.services.identity import tokens

S = TypeVar("S", bound=BaseState)
ORIGIN = "http://localhost:3000"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 isolation-harness"
SETTLE_SECONDS = 20.0


@dataclasses.dataclass
class Outcome:
    """What one event (and every event it chained) did, as the tab would see it."""

    deltas: list[Mapping[str, Any]]
    events: list[Event]
    errors: list[BaseException]

    def text(self) -> str:
        return json_dumps({"deltas": self.deltas, "events": [dataclasses.asdict(e)
                                                              for e in self.events]})


class Harness:
    """One backend worker: an event processor and its in-memory state manager."""

    def __init__(self) -> None:
        self.manager = StateManagerMemory()
        self.processor = BaseStateEventProcessor(
            middleware=app, backend_exception_handler=self._on_error
        )
        self.processor.configure(state_manager=self.manager)
        self._received: dict[str, list[tuple[str, Any]]] = {}
        self.errors: list[BaseException] = []
        root = self.processor._root_context
        assert root is not None
        # The socket.io namespace would forward these to the browser; record them instead.
        self.processor._root_context = dataclasses.replace(
            root, emit_delta_impl=self._emit_delta, emit_event_impl=self._emit_event
        )

    async def __aenter__(self) -> Harness:
        await self.processor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.processor.stop()

    def tab(self, session_token: str | None) -> Tab:
        """A new browser tab whose requests carry `session_token` as the session cookie."""
        return Tab(self, f"{tokens.COOKIE_NAME}={session_token}" if session_token else "")

    def _on_error(self, ex: Exception) -> Any:
        """Record what a handler raised, then do what the app does (a toast for the tab)."""
        self.errors.append(ex)
        return app.backend_exception_handler(ex)

    async def _emit_delta(self, token: str, delta: Mapping[str, Any]) -> None:
        self._received.setdefault(token, []).append(("delta", delta))

    async def _emit_event(self, token: str, *events: Event) -> None:
        self._received.setdefault(token, []).extend(("event", e) for e in events)


class Tab:
    """One browser tab: a Reflex client token, a socket, a cookie, and the page it is on."""

    def __init__(self, harness: Harness, cookie: str) -> None:
        self.harness = harness
        self.token = secrets.token_hex(16)
        self.sid = secrets.token_hex(8)
        raw = [(b"host", b"localhost:3000"), (b"origin", ORIGIN.encode()),
               (b"user-agent", USER_AGENT.encode())]
        if cookie:
            raw.append((b"cookie", cookie.encode()))
        self.headers = _decode_asgi_headers(raw)
        self.path = "/"
        self._connected = False

    def reconnect(self, session_token: str | None) -> None:
        """A full page load in this tab with another cookie (after signing out or in): a new
        socket, but the same Reflex client token, which lives in the tab's sessionStorage."""
        fresh = self.harness.tab(session_token)
        self.sid, self.headers, self._connected = fresh.sid, fresh.headers, False

    async def close(self) -> None:
        """The tab is closed: its socket disconnects."""
        await _token_manager().disconnect_token(self.token, self.sid)
        self._connected = False

    # --- sending events -----------------------------------------------------------------

    async def open(self, path: str, *, settle: bool = True) -> Outcome:
        """Load `path`: the first time as a new connection, later as a client-side navigation."""
        self.path = path
        if not self._connected:
            self._connected = True
            # As the socket's connect handler does: the app now knows this tab is there.
            await _token_manager().link_token_to_sid(self.token, self.sid)
            return await self.send(State.event_handlers["hydrate_and_load"], settle=settle)
        return await self.send(OnLoadInternalState.event_handlers["on_load_internal"],
                               settle=settle)

    async def call(self, state: type[BaseState], handler: str, *, settle: bool = True,
                   **payload: Any) -> Outcome:
        """Send `state.handler(**payload)` from this tab, as a browser click would."""
        if not self._connected:
            await self.open(self.path)
        return await self.send(state.event_handlers[handler], settle=settle, **payload)

    async def send(self, handler: EventHandler, *, settle: bool = True,
                   **payload: Any) -> Outcome:
        """Enqueue the event and wait for every event it chained; without `settle`, only for
        the foreground ones (a background task may run on, e.g. following a reply)."""
        received = self.harness._received.setdefault(self.token, [])
        start, errors_before = len(received), len(self.harness.errors)
        event = Event(name=format_event_handler(handler), router_data=self._router_data(),
                      payload=payload)
        future = await self.harness.processor.enqueue(self.token, event)
        errors: list[BaseException] = []
        try:
            waiting = future.wait_all() if settle else self._foreground_done(future)
            await asyncio.wait_for(waiting, SETTLE_SECONDS)
        except TimeoutError:
            raise
        except Exception as exc:  # the handler raised: the exception handler has run too
            errors.append(exc)
        await asyncio.sleep(0)
        errors += [e for e in self.harness.errors[errors_before:] if e not in errors]
        got = received[start:]
        return Outcome([d for kind, d in got if kind == "delta"],
                       [e for kind, e in got if kind == "event"], errors)

    async def _foreground_done(self, future: EventFuture) -> None:
        await future
        while pending := [f for f in self._foreground_tree(future) if not f.done()]:
            await asyncio.wait(pending, timeout=0.05)

    def _foreground_tree(self, root: EventFuture) -> list[EventFuture]:
        """The chained events' futures, leaving out background tasks and what they chain."""
        found, stack = [], list(root.children)
        while stack:
            child = stack.pop()
            task = self.harness.processor._tasks.get(child.txid)
            name = task.get_name().split("|")[1] if task is not None else ""
            registered = RegistrationContext.get().event_handlers.get(name)
            if registered is not None and registered.handler.is_background:
                continue
            found.append(child)
            stack.extend(child.children)
        return found

    def _router_data(self) -> dict[str, Any]:
        """What `EventNamespace.on_event` builds from the browser's route and the socket."""
        url = urlsplit(self.path)
        route = app.router(url.path) or "404"
        query = {k.replace("-", "_"): v for k, v in parse_qsl(url.query)}
        query.update(_route_params(route, url.path))
        return {
            RouteVar.PATH: "/" + route.removeprefix("/"),
            RouteVar.ORIGIN: self.path,
            RouteVar.QUERY: query,
            RouteVar.SESSION_ID: self.sid,
            RouteVar.HEADERS: dict(self.headers),
            RouteVar.CLIENT_IP: "127.0.0.1",
            RouteVar.CLIENT_TOKEN: self.token,
        }

    # --- reading what the tab holds and was sent -------------------------------------------

    async def state(self, cls: type[S]) -> S:
        root = await self.harness.manager.get_state(BaseStateToken(ident=self.token, cls=cls))
        return await root.get_state(cls)

    @asynccontextmanager
    async def modify(self, cls: type[S]) -> AsyncIterator[S]:
        """Change this tab's state directly, under its lock (to simulate a state gone wrong)."""
        token = BaseStateToken(ident=self.token, cls=cls)
        async with self.harness.manager.modify_state(token) as root:
            yield await root.get_state(cls)

    async def public_vars(self) -> str:
        """Every public var of every state of this tab, serialized as for the browser."""
        root = await self.harness.manager.get_state(BaseStateToken(ident=self.token, cls=State))
        return json_dumps(root.dict())

    def wire(self) -> str:
        """Everything sent to this tab so far: deltas and frontend events, serialized."""
        got = self.harness._received.get(self.token, [])
        return json_dumps([d if kind == "delta" else dataclasses.asdict(d) for kind, d in got])

    async def everything_seen(self) -> str:
        return await self.public_vars() + "\n" + self.wire()


def _token_manager() -> TokenManager:
    """The app's record of which tabs have a socket (what presence checks ask)."""
    namespace = app.event_namespace
    assert namespace is not None
    return namespace._token_manager


def _route_params(route: str, path: str) -> dict[str, str]:
    """The dynamic segments of `path` for `route` (`chat/[thread_id]` → thread_id)."""
    params = {}
    for pattern, value in zip(route.strip("/").split("/"), path.strip("/").split("/"),
                              strict=False):
        if pattern.startswith("[") and pattern.endswith("]"):
            params[pattern[1:-1]] = value
    return params
