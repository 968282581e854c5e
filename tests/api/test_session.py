"""The session cookie middleware: page loads by crawlers and scripts store nothing; a cookie is
kept while it is good and replaced when it is not (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from chatapp import config
from chatapp.api.session import SessionCookieMiddleware
from chatapp.services.identity import accounts, tokens
from tests.isolation.world import all_counts

HTML = {"accept": "text/html,application/xhtml+xml"}
SECRET = "session-middleware-test-secret-0123456789"


async def _page(request):  # type: ignore[no-untyped-def]
    return HTMLResponse("<html><script></script></html>")


@pytest.fixture
async def client(engine: Engine, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("CHATAPP_SECRET_KEY", SECRET)
    config.get_settings.cache_clear()
    app = SessionCookieMiddleware(Starlette(routes=[Route("/{path:path}", _page)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as http:
        yield http
    config.get_settings.cache_clear()


def _minted(response: httpx.Response) -> str | None:
    header = response.headers.get("set-cookie")
    return tokens.token_from_cookie_header(header) if header else None


async def test_cookie_less_page_loads_store_nothing(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    before = all_counts(engine)
    minted = []
    for path in ("/", "/chat/x", "/settings/usage", "/") * 5:
        client.cookies.clear()  # a crawler keeps no cookie between requests
        minted.append(_minted(await client.get(path, headers={**HTML,
                                                              "user-agent": "Googlebot/2.1"})))

    assert all_counts(engine) == before  # 20 crawler hits: no user, no session
    assert len(set(minted)) == 20 and all(tokens.is_visitor_token(SECRET, m) for m in minted)
    client.cookies.clear()
    response = await client.get("/", headers=HTML)
    assert "HttpOnly" in response.headers["set-cookie"]
    assert "SameSite=Lax" in response.headers["set-cookie"]


async def test_a_good_cookie_is_kept_and_a_bad_one_replaced(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    visitor = tokens.mint_visitor_token(SECRET)
    with Session(engine) as s:
        live = tokens.create_anonymous_session(s, user_agent=None)
        ended = tokens.create_anonymous_session(s, user_agent=None)
        s.commit()
        accounts.sign_out(s, token=ended.token)
        s.commit()

    def cookie(value: str) -> dict[str, str]:
        client.cookies.clear()
        return {**HTML, "cookie": f"{tokens.COOKIE_NAME}={value}"}

    assert _minted(await client.get("/", headers=cookie(visitor))) is None
    assert _minted(await client.get("/", headers=cookie(live.token))) is None
    for bad in (ended.token, "made-up-token", tokens.mint_visitor_token("x" * 40)):
        fresh = _minted(await client.get("/", headers=cookie(bad)))
        assert fresh is not None and fresh != bad and tokens.is_visitor_token(SECRET, fresh)


async def test_pages_are_never_reused_from_the_browser_cache(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    # A cached page would bring no new cookie after signing out: the tab would connect with
    # the ended session. So every page load must reach the server.
    with Session(engine) as s:
        live = tokens.create_anonymous_session(s, user_agent=None)
        s.commit()
    client.cookies.clear()
    fresh = await client.get("/", headers=HTML)
    kept = await client.get("/chat/x", headers={**HTML,
                                                "cookie": f"{tokens.COOKIE_NAME}={live.token}"})
    assert fresh.headers["cache-control"] == "no-store"
    assert kept.headers["cache-control"] == "no-store"
