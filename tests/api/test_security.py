"""The security middleware in front of a small ASGI app: headers, script hashes, socket origins."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from chatapp.api.security import SecurityMiddleware, origin_of
from chatapp.config import Settings

THEME = "\n  document.documentElement.dataset.theme = 'dark';\n"
LOADER = '$RC("B:1","S:1")'
PAGE = (
    f"<!doctype html><html><head><script>{THEME}</script>"
    '<script defer="" src="/chat.js"></script>'
    '<script type="module" async="">import "/assets/a.js";</script></head>'
    f"<body><div id=root></div><script>{LOADER}</script></body></html>"
)
SOCKET = "/_event/?EIO=4&transport=websocket"
POLLING = "/_event/?EIO=4&transport=polling"


def sha256(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def policy_of(response) -> dict[str, list[str]]:
    parts = (p.split() for p in response.headers["content-security-policy"].split(";"))
    return {name: values for name, *values in parts}


async def _socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("0{}")  # what engine.io sends first
    await websocket.close()


def _inner() -> Starlette:
    return Starlette(routes=[
        Route("/", lambda request: HTMLResponse(PAGE)),
        Route("/data", lambda request: JSONResponse({"ok": True})),
        Route("/framed", lambda request: Response(
            "x", headers={"Content-Security-Policy": "default-src 'none'"})),
        Route("/_event/", lambda request: Response("0{}")),
        WebSocketRoute("/_event/", _socket),
    ])


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A build folder like Reflex's: pages with inline scripts, nested routes, a fallback."""
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "index.html").write_text(
        "<html><script>window.__route = 'settings';\r\n</script></html>")
    return tmp_path


def client(built: Path, base_url: str = "http://testserver", **settings: object) -> TestClient:
    config = Settings(_env_file=None, secret_key=secrets.token_urlsafe(32), **settings)
    return TestClient(SecurityMiddleware(_inner(), settings=config, html_dir=built),
                      base_url=base_url)


# --- headers --------------------------------------------------------------------------------


def test_pages_get_a_policy_that_allows_only_the_builds_own_inline_scripts(built: Path) -> None:
    response = client(built).get("/")
    policy = policy_of(response)
    assert policy["script-src"][:2] == ["'self'", "'unsafe-eval'"]
    hashes = set(policy["script-src"][2:])
    # Every inline script of every built page, as the browser hashes it (CRLF read as LF)...
    assert {sha256(THEME), sha256(LOADER), sha256('import "/assets/a.js";'),
            sha256("window.__route = 'settings';\n")} == hashes
    # ...and nothing that would let an injected inline script run.
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'", "ws://testserver"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["font-src"] == ["'self'", "data:"]
    for name, value in [("object-src", "'none'"), ("frame-ancestors", "'none'"),
                        ("base-uri", "'self'"), ("form-action", "'self'"),
                        ("default-src", "'self'")]:
        assert policy[name] == [value]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_every_response_gets_the_headers_and_a_routes_own_policy_is_kept(built: Path) -> None:
    app = client(built)
    data = app.get("/data")
    assert data.json() == {"ok": True}
    assert "frame-ancestors 'none'" in data.headers["content-security-policy"]
    assert data.headers["x-content-type-options"] == "nosniff"
    framed = app.get("/framed")
    assert framed.headers.get_list("content-security-policy") == ["default-src 'none'"]


def test_a_rebuilt_frontend_is_hashed_again(built: Path) -> None:
    app = client(built)
    assert sha256(LOADER) in policy_of(app.get("/"))["script-src"]
    page = built / "index.html"
    page.write_text("<script>rebuilt()</script>")
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    script = policy_of(app.get("/"))["script-src"]
    assert sha256("rebuilt()") in script and sha256(LOADER) not in script


def test_no_build_yet_means_no_hashes(tmp_path: Path) -> None:
    policy = policy_of(client(tmp_path / "missing").get("/"))
    assert policy["script-src"] == ["'self'", "'unsafe-eval'"]


def test_the_socket_origin_follows_the_public_url_and_https(built: Path) -> None:
    proxied = client(built, base_url="http://internal:3000",
                     public_url="https://chat.example.org/")
    assert policy_of(proxied.get("/"))["connect-src"] == ["'self'", "wss://chat.example.org"]
    forwarded = client(built).get("/", headers={"X-Forwarded-Proto": "https"})
    assert policy_of(forwarded)["connect-src"] == ["'self'", "wss://testserver"]
    odd = client(built).get("/", headers={"Host": "a b;script-src *"})
    assert policy_of(odd)["connect-src"] == ["'self'"]  # a strange Host never reaches the policy


def test_avatars_of_configured_sign_in_providers_may_load(built: Path) -> None:
    github = {"github_client_id": "id", "github_client_secret": "secret"}
    img = policy_of(client(built, **github).get("/"))["img-src"]
    assert img == ["'self'", "data:", "blob:", "https://avatars.githubusercontent.com"]
    enterprise = policy_of(client(
        built, github_base_url="https://git.corp.example:8443", **github,
        google_client_id="id", google_client_secret="secret").get("/"))["img-src"]
    assert enterprise[3:] == ["https://git.corp.example:8443", "https://lh3.googleusercontent.com"]


# --- the socket's origin ------------------------------------------------------------------


def test_a_foreign_origin_cannot_open_the_websocket(built: Path) -> None:
    app = client(built)
    for origin in ("http://evil.example", "http://testserver:8080", "https://testserver",
                   "null", "http://testserver.evil.example"):
        with pytest.raises(WebSocketDisconnect) as refused, app.websocket_connect(
            SOCKET, headers={"Origin": origin}
        ):
            pass
        assert refused.value.code == 1008, origin


def test_the_apps_own_pages_and_non_browser_clients_may_open_it(built: Path) -> None:
    app = client(built)
    for headers in ({"Origin": "http://testserver"}, {"Origin": "HTTP://TESTSERVER:80"}, {}):
        with app.websocket_connect(SOCKET, headers=headers) as ws:
            assert ws.receive_text() == "0{}"


def test_socket_ios_polling_handshake_is_checked_the_same_way(built: Path) -> None:
    app = client(built)
    refused = app.get(POLLING, headers={"Origin": "http://localhost:3001"})
    assert refused.status_code == 403
    assert app.get(POLLING, headers={"Origin": "http://testserver"}).status_code == 200
    assert app.get(POLLING).status_code == 200
    # A no-cors GET from another site has no Origin, but the browser says where it came from.
    assert app.get(POLLING, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert app.get(POLLING, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    # Only the socket is guarded here; other routes are Reflex's CORS middleware's business.
    assert app.get("/data", headers={"Origin": "http://evil.example"}).status_code == 200


def test_behind_a_proxy_the_public_url_or_the_forwarded_scheme_decides(built: Path) -> None:
    app = client(built, base_url="http://127.0.0.1:3000", public_url="https://chat.example.org")
    with app.websocket_connect(SOCKET, headers={"Origin": "https://chat.example.org"}) as ws:
        assert ws.receive_text() == "0{}"
    with pytest.raises(WebSocketDisconnect), app.websocket_connect(
        SOCKET, headers={"Origin": "http://127.0.0.1:3000"}
    ):
        pass
    # Without a public URL, behind a TLS proxy: the Host and X-Forwarded-Proto it passes on.
    with client(built).websocket_connect(SOCKET, headers={
        "Host": "chat.example.org", "X-Forwarded-Proto": "https",
        "Origin": "https://chat.example.org",
    }) as ws:
        assert ws.receive_text() == "0{}"


def test_origins_are_compared_as_browsers_write_them() -> None:
    assert origin_of("https://Chat.Example.org:443/path?q") == "https://chat.example.org"
    assert origin_of("http://[::1]:3000") == "http://[::1]:3000"
    assert origin_of("http://127.0.0.1:80") == "http://127.0.0.1"
    for bad in ("null", "file:///etc", "http://", "http://host:99999", "javascript:alert(1)"):
        assert origin_of(bad) is None
