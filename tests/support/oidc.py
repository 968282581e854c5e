"""A real OpenID Connect provider (oidc-provider-mock, built on authlib) on loopback for tests."""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import flask
import httpx
import werkzeug.serving
from authlib.oauth2.rfc7636 import CodeChallenge

with warnings.catch_warnings():  # it imports authlib.jose, deprecated in favour of joserfc
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOST = "127.0.0.1"  # the issuer is derived from the Host header: always use this exact host
_CDN_STYLESHEET = re.compile(r"<link\s[^>]*https://cdn\.[^>]*>")
_PKCE_METHODS = CodeChallenge.CODE_CHALLENGE_METHODS  # authlib's own plain/S256 comparisons


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A client registered through the provider's dynamic client registration endpoint."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One request the provider answered (its admin API under /users/ is not recorded)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    status: int


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class OidcProvider:
    """oidc-provider-mock on ``127.0.0.1:<free port>``, on its own thread.

    ``with OidcProvider() as idp: ...`` or ``idp.start(); ...; idp.stop()``. Any client id and
    secret and any redirect URI are accepted unless ``require_client_registration`` is set (then
    use ``register_client``). On top of the mock this class enforces PKCE (the mock ignores
    ``code_challenge``) and puts ``state`` on the access-denied redirect (the mock drops it).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        require_client_registration: bool = False,
        require_nonce: bool = False,
        issue_refresh_token: bool = True,
        access_token_max_age: timedelta = timedelta(hours=1),
    ) -> None:
        self._requested_port = port
        self._app = oidc_provider_mock.app(
            require_client_registration=require_client_registration,
            require_nonce=require_nonce,
            issue_refresh_token=issue_refresh_token,
            access_token_max_age=access_token_max_age,
        )
        self._app.before_request(self._check_pkce)
        self._app.after_request(self._after_request)
        self._lock = threading.Lock()
        self._challenges: dict[str, tuple[str, str]] = {}  # code -> (challenge, method)
        self._records: list[ProviderRequest] = []
        self._server: werkzeug.serving.BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OidcProvider is not running")
        return self._server.server_port

    @property
    def issuer(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/oauth2/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth2/token"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/userinfo"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> str:
        """Start serving on a background thread; returns the issuer URL."""
        if self._server is None:
            server = werkzeug.serving.make_server(
                HOST, self._requested_port, self._app, threaded=True, request_handler=_QuietHandler
            )
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="oidc-provider", daemon=True
            )
            thread.start()
            self._server, self._thread = server, thread
        return self.issuer

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(10)
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> OidcProvider:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- users and clients (the mock's own HTTP API) -------------------------------

    def set_user(
        self,
        sub: str,
        *,
        email: str,
        email_verified: bool = True,
        name: str | None = None,
        picture: str | None = None,
        **claims: object,
    ) -> None:
        """Claims for ``sub`` in the id_token and userinfo (``email*`` need scope ``email``,
        ``name``/``picture`` need ``profile``). Replaces earlier claims; takes effect for tokens
        issued afterwards. A sub never set gets only ``{"email": sub}`` when it signs in."""
        body: dict[str, object] = {"email": email, "email_verified": email_verified, **claims}
        if name is not None:
            body["name"] = name
        if picture is not None:
            body["picture"] = picture
        response = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=body)
        response.raise_for_status()

    def revoke_tokens(self, sub: str) -> None:
        """Invalidate every access and refresh token issued to ``sub`` (userinfo then says 401)."""
        response = httpx.post(f"{self.issuer}/users/{quote(sub, safe='')}/revoke-tokens")
        response.raise_for_status()

    def register_client(
        self,
        redirect_uris: Sequence[str],
        *,
        token_endpoint_auth_method: str = "client_secret_basic",
    ) -> RegisteredClient:
        """Register a client (RFC 7591); its secret, redirect URIs and auth method are enforced.

        The provider picks the client id and secret. Unregistered ids are refused only when the
        provider was built with ``require_client_registration=True``.
        """
        response = httpx.post(
            f"{self.issuer}/oauth2/clients",
            json={
                "redirect_uris": list(redirect_uris),
                "token_endpoint_auth_method": token_endpoint_auth_method,
            },
        )
        response.raise_for_status()
        data = response.json()
        return RegisteredClient(data["client_id"], data["client_secret"], tuple(redirect_uris))

    # --- records -------------------------------------------------------------------

    @property
    def requests(self) -> list[ProviderRequest]:
        """Requests answered so far, oldest first."""
        with self._lock:
            return list(self._records)

    def requests_to(self, path: str) -> list[ProviderRequest]:
        """Requests for one path, e.g. ``"/oauth2/authorize"`` or ``"/oauth2/token"``."""
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    # --- Flask hooks: PKCE, state on denial, recording ------------------------------

    def _check_pkce(self) -> flask.Response | None:
        """RFC 7636 at the token endpoint, as authlib's CodeChallenge extension checks it."""
        request = flask.request
        if request.path != "/oauth2/token":
            return None
        if request.form.get("grant_type") != "authorization_code":
            return None
        with self._lock:
            challenge = self._challenges.get(request.form.get("code", ""))
        verifier = request.form.get("code_verifier")
        if challenge is None and verifier is None:
            return None
        if not verifier:
            return _token_error("invalid_request", "Missing 'code_verifier'")
        if challenge is None:
            return _token_error("invalid_grant", "Code challenge failed.")
        value, method = challenge
        compare = _PKCE_METHODS.get(method)
        if compare is None:
            return _token_error("invalid_request", f"Unsupported code_challenge_method {method}")
        if not compare(verifier, value):
            return _token_error("invalid_grant", "Code challenge failed.")
        return None  # the code stays valid after a failed verifier, as in authlib

    def _after_request(self, response: flask.Response) -> flask.Response:
        request = flask.request
        if request.path == "/oauth2/authorize" and response.status_code == 302:
            self._on_authorize_redirect(response)
        if response.mimetype == "text/html" and not response.direct_passthrough:
            # Its pages link a CDN stylesheet; offline, the browser's load event would wait on it.
            response.set_data(_CDN_STYLESHEET.sub("", response.get_data(as_text=True)))
        if not request.path.startswith("/users/"):
            record = ProviderRequest(
                method=request.method,
                path=request.path,
                query=dict(request.args.items()),
                form=dict(request.form.items()),
                headers=dict(request.headers.items()),
                status=response.status_code,
            )
            with self._lock:
                self._records.append(record)
        return response

    def _on_authorize_redirect(self, response: flask.Response) -> None:
        args = flask.request.args
        parts = urlsplit(response.location or "")
        params = dict(parse_qsl(parts.query))
        if "code" in params and args.get("code_challenge"):
            method = args.get("code_challenge_method") or "plain"
            with self._lock:
                self._challenges[params["code"]] = (args["code_challenge"], method)
        if "error" in params and "state" not in params and args.get("state"):
            # RFC 6749 4.1.2.1: the error redirect carries the client's state back.
            query = urlencode([*parse_qsl(parts.query), ("state", args["state"])])
            response.location = urlunsplit(parts._replace(query=query))


def _token_error(error: str, description: str) -> flask.Response:
    response = flask.jsonify({"error": error, "error_description": description})
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Playwright (sync API): act as the user on the authorization page --------------


def approve(page: Page, sub: str) -> None:
    """Sign in as ``sub`` on the provider's page and authorize; returns once the browser has
    been redirected back to the client (``redirect_uri?code=...&state=...``)."""
    provider = urlsplit(page.url).netloc
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(lambda url: urlsplit(url).netloc != provider)


def deny(page: Page) -> None:
    """Refuse on the provider's page: the browser goes back to the client with
    ``error=access_denied&error_description=...&state=...``."""
    provider = urlsplit(page.url).netloc
    page.get_by_role("button", name="Deny", exact=True).click()
    page.wait_for_url(lambda url: urlsplit(url).netloc != provider)
