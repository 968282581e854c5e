"""Every HTTP route and page, and what Bob can do to Alice through them: nothing.

ROUTES and PAGES list every route of the app's `api_transformer` apps and every page;
`test_every_route_and_page_is_in_the_table` fails when one is added without its case here.
The routes run as the app stacks them: the sign-in app, Reflex mounted under it (a stand-in
here), and the session-cookie middleware around both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from chatapp.api.auth import build_auth_app
from chatapp.api.live import build_live_app
from chatapp.api.session import SessionCookieMiddleware
from chatapp.config import Settings, get_settings
from chatapp.feeds import get_reply_feeds
from chatapp.services.identity import tokens
from tests.isolation.harness import app
from tests.isolation.test_handlers import HANDLERS, URL_THREAD
from tests.isolation.world import Person, all_counts, live_session_ids, make_person, owned_rows

ROUTES = {
    ("GET", "/auth/login/{provider}"): "a provider name, nobody's data",
    ("GET", "/auth/callback/{provider}"): "OAuth state bound to the browser's signed cookie",
    ("POST", "/auth/logout"): "ends only the session of the caller's own cookie",
    ("GET", "/api/live/{message_id}"): "a reply's feed, to its owner's session only",
}
PAGES = {  # route → its on_load handler, attacked in test_handlers.py
    "index": "ComposerState.load_page",
    "chat/[thread_id]": "ComposerState.load_page",
    "signin": "SignInState.load",
    "settings/account": "AccountState.load",
    "settings/keys": "KeysState.load",
    "settings/models": "ModelSettingsState.load",
    "settings/usage": "UsageState.load",
}
HTML = {"accept": "text/html,application/xhtml+xml"}


def _routes(asgi: Starlette, prefix: str = "") -> set[tuple[str, str]]:
    found = set()
    for route in asgi.routes:
        if isinstance(route, Route):
            found |= {(m, prefix + route.path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, Mount) and isinstance(route.app, Starlette):
            found |= _routes(route.app, prefix + route.path)
    return found


def test_every_route_and_page_is_in_the_table() -> None:
    transformers = app.api_transformer
    assert isinstance(transformers, list)
    found = set().union(*(_routes(t) for t in transformers if isinstance(t, Starlette)))
    assert found == set(ROUTES), "add the new route's isolation case to ROUTES and a test"
    pages = {route: [h.fn.__qualname__ for h in (page.on_load if isinstance(page.on_load, list)
                                                 else [page.on_load]) if h is not None]
             for route, page in app._unevaluated_pages.items()}
    assert {r: hs[0] if hs else "" for r, hs in pages.items()} == PAGES
    for route, handler in PAGES.items():
        assert handler in HANDLERS
        if "[" in route:  # an id in the URL: its on_load must be attacked with one
            assert HANDLERS[handler].kind == URL_THREAD


async def _reflex_stand_in(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await HTMLResponse("<html>page</html>")(scope, receive, send)


def _stack(settings: Settings) -> ASGIApp:
    """chatapp.chatapp's api_transformer order: the sign-in app, the live feeds under it and
    Reflex under them, wrapped in the session-cookie middleware."""
    live = build_live_app()
    live.mount("", _reflex_stand_in)
    auth = build_auth_app(settings)
    auth.mount("", live)
    return SessionCookieMiddleware(auth)


@pytest.fixture
async def client(engine: Engine, app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key="isolation-secret-key-of-enough-length",
        github_client_id="github-client", github_client_secret="github-secret",
        github_base_url="http://127.0.0.1:9", github_api_url="http://127.0.0.1:9/api",
    )
    transport = httpx.ASGITransport(app=_stack(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


@pytest.fixture
def people(engine: Engine, app_settings: Settings) -> tuple[Person, Person]:
    return make_person(engine, app_settings, "alice"), make_person(engine, app_settings, "bob")


def _cookie(value: str) -> dict[str, str]:
    return {"cookie": f"{tokens.COOKIE_NAME}={value}"}


async def test_logout_with_bobs_cookie_ends_only_bobs_session(
    client: httpx.AsyncClient, engine: Engine, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    alices = owned_rows(engine, alice.user_id)
    response = await client.post("/auth/logout", headers=_cookie(bob.token))
    assert response.status_code == 303
    assert live_session_ids(engine, bob.user_id) == {bob.other_session_id}
    assert owned_rows(engine, alice.user_id) == alices


async def test_logout_with_alices_ids_instead_of_her_token_ends_nothing(
    client: httpx.AsyncClient, engine: Engine, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    alices = owned_rows(engine, alice.user_id)
    for value in (alice.session_id, tokens.hash_token(alice.token), alice.user_id):
        await client.post("/auth/logout", headers=_cookie(value))
    assert owned_rows(engine, alice.user_id) == alices
    await client.post("/auth/logout", headers=_cookie(alice.token))  # the control
    assert live_session_ids(engine, alice.user_id) == {alice.other_session_id}


async def test_a_page_load_with_alices_ids_as_cookie_gets_a_stranger(
    client: httpx.AsyncClient, engine: Engine, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    alices = owned_rows(engine, alice.user_id)
    for value in (alice.session_id, tokens.hash_token(alice.token), alice.user_id):
        response = await client.get(f"/chat/{alice.thread_id}", headers={**HTML, **_cookie(value)})
        minted = tokens.token_from_cookie_header(response.headers["set-cookie"])
        assert minted not in (None, alice.token, alice.other_token)
        # A new visitor's token: none of Alice's, and nobody's yet.
        assert tokens.is_visitor_token(get_settings().secret, minted)
        with Session(engine) as s:
            assert tokens.user_for_token(s, token=minted) is None
    assert owned_rows(engine, alice.user_id) == alices
    response = await client.get("/", headers={**HTML, **_cookie(alice.token)})  # the control
    assert "set-cookie" not in response.headers


async def test_an_oauth_callback_from_another_browser_is_refused(
    client: httpx.AsyncClient, engine: Engine, people: tuple[Person, Person]
) -> None:
    """Bob cannot finish, in his browser, a sign-in Alice started (login CSRF, fixation)."""
    alice, bob = people
    started = await client.get("/auth/login/github?next=/", headers=_cookie(alice.token))
    client.cookies.clear()  # each request below carries exactly the cookies it names
    assert started.status_code in (302, 303)
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    oauth_cookie = started.headers["set-cookie"].split(";")[0]  # chatapp_oauth=<signed>
    callback = f"/auth/callback/github?code=stolen&state={state}"
    alices, counts = owned_rows(engine, alice.user_id), all_counts(engine)

    response = await client.get(callback, headers=_cookie(bob.token))
    assert (response.status_code, response.headers["location"]) == (303,
                                                                     "/signin?error=invalid")
    assert tokens.COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert (owned_rows(engine, alice.user_id), all_counts(engine)) == (alices, counts)
    # The control: in Alice's browser the state matches, and only the code exchange
    # (with a provider that is not there) fails.
    own = {"cookie": f"{oauth_cookie}; {tokens.COOKIE_NAME}={alice.token}"}
    response = await client.get(callback, headers=own)
    assert response.headers["location"] == "/signin?error=provider_error"


async def test_the_live_feed_of_alices_reply_reaches_her_session_only(
    client: httpx.AsyncClient, engine: Engine, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    feeds = get_reply_feeds()
    secret = alice.texts[0] + " streamed"
    await feeds.start(alice.streaming_reply_id)
    await feeds.append(alice.streaming_reply_id, secret, "")
    await feeds.end(alice.streaming_reply_id, "complete")
    url = f"/api/live/{alice.streaming_reply_id}"
    alices = owned_rows(engine, alice.user_id)
    refused = [
        await client.get(url, headers=_cookie(bob.token)),  # Bob's own session
        await client.get(url),  # no session
        *[await client.get(url, headers=_cookie(value))  # Alice's ids in place of her token
          for value in (alice.session_id, tokens.hash_token(alice.token), alice.user_id)],
        await client.get(f"/api/live/{alice.finished_reply_id}x", headers=_cookie(bob.token)),
    ]
    for response in refused:
        assert response.status_code == 404
        assert secret not in response.text and alice.texts[0] not in response.text
    # Alice's own page on another site cannot read it with her cookie either.
    response = await client.get(url, headers={**_cookie(alice.token),
                                              "origin": "https://evil.example"})
    assert response.status_code == 403 and secret not in response.text
    assert owned_rows(engine, alice.user_id) == alices
    # The control: her session reads it, to its end.
    response = await client.get(url, headers={**_cookie(alice.token),
                                              "origin": "http://localhost"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert secret in response.text and "event: end" in response.text
