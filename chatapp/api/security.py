"""Browser protections: the Content-Security-Policy on every response, and who may open the socket.

The policy is the backstop for model output: whatever slips past the Markdown renderer still
cannot load from, or send to, another site. The socket check keeps other pages on the same
site (another app on localhost:*, a sibling subdomain) from driving the app with the user's
cookie: Reflex's socket.io server accepts any Origin by default.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapp.api.cookies import request_headers, served_over_https
from chatapp.config import Settings, get_settings
from chatapp.services.identity.sign_in import configured_providers

EVENT_PATH = "/_event"  # Reflex's socket.io endpoint: the websocket and its polling handshake
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Sign-in providers whose profile pictures the sidebar and account page show. Another OIDC
# provider's picture is refused by img-src and rx.avatar shows its fallback glyph instead.
_GITHUB_AVATARS = "https://avatars.githubusercontent.com"
_GOOGLE_AVATARS = "https://lh3.googleusercontent.com"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` as a browser writes it in `Origin` (default port left out)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else (
        f"{scheme}://{host}:{port}"
    )


def own_origin(scope: Scope, headers: dict[str, str], settings: Settings) -> str | None:
    """The app's origin: CHATAPP_PUBLIC_URL when set, else the address this request came to."""
    if settings.public_url:
        return origin_of(settings.public_url)
    host = headers.get("host", "")
    if not _HOST.match(host):
        return None
    # Behind a TLS proxy, as for the session cookie's Secure flag. A page cannot set this
    # header on a websocket handshake, so it only ever helps the proxy's own clients.
    secure = served_over_https(settings, scheme=scope.get("scheme", "http"), headers=headers)
    return origin_of(f"{'https' if secure else 'http'}://{host}")


def socket_allowed(scope: Scope, headers: dict[str, str], settings: Settings) -> bool:
    """Only the app's own pages may open the socket.

    Browsers send `Origin` on every websocket handshake and every cross-origin POST, so a
    missing one is a non-browser client (a script holding its own cookie) or a same-origin
    GET, and is let through. A cross-site GET in no-cors mode omits `Origin` too, but its
    `Sec-Fetch-Site` gives it away.
    """
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    allowed = own_origin(scope, headers, settings)
    return allowed is not None and origin_of(origin) == allowed


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and all(name != "src" for name, _ in attrs):
            self._open = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append("".join(self._open))
            self._open = None


def inline_script_hashes(html_dir: Path) -> list[str]:
    """CSP hash sources for every inline <script> in the built pages (theme, router, loader)."""
    found: set[str] = set()
    for page in sorted(html_dir.rglob("*.html")):
        parser = _InlineScripts()
        # Universal newlines: the browser, too, hashes the text with CR LF read as LF.
        parser.feed(page.read_text(encoding="utf-8"))
        for script in parser.scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            found.add(f"'sha256-{digest}'")
    return sorted(found)


def avatar_sources(settings: Settings) -> list[str]:
    sources = []
    for provider in configured_providers(settings):
        if provider.id == "github":
            # GitHub Enterprise serves avatars from its own host.
            base = origin_of(settings.github_base_url)
            sources.append(_GITHUB_AVATARS if base == "https://github.com" else base)
        elif provider.id == "google":
            sources.append(_GOOGLE_AVATARS)
    return [source for source in sources if source]


def content_security_policy(
    *, script_hashes: list[str], img_extra: list[str], origin: str | None
) -> str:
    # rx.call_script (the states' redirects and scroll-to-bottom) runs through eval() in
    # Reflex's runtime (utils/state.js), so 'unsafe-eval' stays; no 'unsafe-inline'.
    script = ["'self'", "'unsafe-eval'", *script_hashes]
    connect = ["'self'"]
    if origin:  # the socket's ws(s):// URL, for browsers where 'self' does not cover it
        connect.append(origin.replace("http", "ws", 1))
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "style-src": ["'self'", "'unsafe-inline'"],  # emotion and Radix inject style tags
        "img-src": ["'self'", "data:", "blob:", *img_extra],
        "font-src": ["'self'", "data:"],  # KaTeX fonts, some inlined by Vite
        "connect-src": connect,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class SecurityMiddleware:
    """Refuses socket handshakes from other origins; adds the security headers to responses."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings | None = None, html_dir: Path | None = None
    ) -> None:
        self.app = app
        self.settings = settings or get_settings()
        self._html_dir = html_dir
        self._img_extra = avatar_sources(self.settings)
        self._hashes: tuple[int, list[str]] | None = None  # (index.html mtime, hashes)
        # The headers depend only on the built pages and the origin (which changes only
        # without CHATAPP_PUBLIC_URL): the last ones built are reused.
        self._built: tuple[tuple[int | None, str | None], list[tuple[bytes, bytes]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope)
        path = scope["path"]
        is_socket = path == EVENT_PATH or path.startswith(EVENT_PATH + "/")
        if is_socket and not socket_allowed(scope, headers, self.settings):
            await _refuse(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        extra = self._headers(scope, headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in extra if name not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, scope: Scope, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        if self._html_dir is None:
            self._html_dir = _built_pages_dir()
        try:
            stamp: int | None = (self._html_dir / "index.html").stat().st_mtime_ns
        except OSError:
            stamp = None  # not built yet: nothing to hash, and nothing cached
        key = (stamp, own_origin(scope, headers, self.settings))
        if self._built is None or self._built[0] != key:
            policy = content_security_policy(
                script_hashes=self._script_hashes(stamp), img_extra=self._img_extra,
                origin=key[1],
            )
            self._built = (key, [
                (b"content-security-policy", policy.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin"),
                (b"x-frame-options", b"DENY"),  # frame-ancestors, for browsers that predate it
            ])
        return self._built[1]

    def _script_hashes(self, stamp: int | None) -> list[str]:
        """Hashes of the built pages, read on first use and again whenever they are rebuilt."""
        if stamp is None or self._html_dir is None:
            return []
        if self._hashes is None or self._hashes[0] != stamp:
            self._hashes = (stamp, inline_script_hashes(self._html_dir))
        return self._hashes[1]


def _built_pages_dir() -> Path:
    # Where `reflex run --env prod` serves the compiled pages from (REFLEX_WEB_WORKDIR aware).
    from reflex.utils.prerequisites import get_web_dir
    from reflex_base.constants import Dirs

    return get_web_dir() / Dirs.STATIC


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect; closing before accepting answers HTTP 403
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b"This origin may not connect."
    await send({
        "type": "http.response.start", "status": 403,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
