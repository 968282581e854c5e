"""Scripted GitHub OAuth app (github.com login routes, REST /user and /user/emails) on loopback."""

from __future__ import annotations

import base64
import html
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOST = "127.0.0.1"  # loopback only: this server trusts every caller
API_PREFIX = "/api/v3"  # api.github.com routes live here, as on GitHub Enterprise Server
DOCS = "https://docs.github.com"
_AUTHZ_ERRORS = (  # GitHub's error_uri on authorization errors: relative, as documented
    "/apps/building-integrations/setting-up-and-registering-oauth-apps/"
    "troubleshooting-authorization-request-errors/"
)
_TOKEN_ERRORS = (  # ...and on token errors: absolute, as github.com answers today
    f"{DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
)
_Handler = Callable[[Request, dict[str, str]], Response]
_MISMATCH = "The redirect_uri MUST match the registered callback URL for this application."


@dataclass(frozen=True, slots=True)
class GitHubUser:
    id: int
    login: str
    name: str | None
    emails: tuple[tuple[str, bool, bool], ...]  # (email, primary, verified)
    public_email: str | None  # /user's "email": null when the user keeps it private


@dataclass(frozen=True, slots=True)
class GitHubRequest:
    method: str
    path: str  # API routes without the /api/v3 prefix
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str] = field(repr=False)  # names lower-cased
    status: int


@dataclass(frozen=True, slots=True)
class _Grant:
    redirect_uri: str
    scope: str
    challenge: str | None
    user: GitHubUser


class FakeGitHub:
    """A registered OAuth app's view of GitHub; the browser is already signed in as the user.

    ``with FakeGitHub() as gh: ...`` or ``gh.start(); ...; gh.stop()``. OAuth routes are under
    ``base_url`` (github.com), REST routes under ``api_url`` (api.github.com, /api/v3 here).
    ``callback_url`` is the app's registered callback; None accepts any redirect_uri.
    """

    def __init__(
        self,
        *,
        client_id: str = "Ov23liFakeClientId01",
        client_secret: str = "fake-github-client-secret",
        callback_url: str | None = None,
        app_name: str = "chatapp",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback_url = callback_url
        self.app_name = app_name
        self._requested_port = port
        self._lock = threading.Lock()
        octocat = "octocat@github.com"
        self._user = GitHubUser(583231, "octocat", "The Octocat", ((octocat, True, True),), octocat)
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, tuple[GitHubUser, str]] = {}  # token -> (user, scope)
        self._records: list[GitHubRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        authorize, token = self._endpoint(self._authorize), self._endpoint(self._access_token)
        api = self._endpoint(self._api)
        self._app = Starlette(
            routes=[
                Route("/login/oauth/authorize", authorize, methods=["GET", "POST"]),
                Route("/login/oauth/access_token", token, methods=["POST"]),
                Route(f"{API_PREFIX}/user", api),
                Route(f"{API_PREFIX}/user/emails", api),
                Route("/avatars/u/{id:int}", _avatar),
            ]
        )

    # --- addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeGitHub is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """Stands for https://github.com."""
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """Stands for https://api.github.com."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/login/oauth/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{self.base_url}/login/oauth/access_token"

    # --- script --------------------------------------------------------------------

    def set_user(
        self,
        *,
        id: int,
        login: str,
        name: str | None = None,
        emails: Sequence[tuple[str, bool, bool]] = (),
        public_email: str | None = None,
    ) -> GitHubUser:
        """The account behind the next authorization; ``emails`` are (email, primary, verified).
        ``public_email`` is /user's "email": null unless the user made one public."""
        user = GitHubUser(id, login, name, tuple(emails), public_email)
        with self._lock:
            self._user = user
        return user

    def revoke_tokens(self) -> None:
        """The user revokes the app: every issued token now gets 401 Bad credentials."""
        with self._lock:
            self._tokens.clear()

    @property
    def requests(self) -> list[GitHubRequest]:
        with self._lock:
            return list(self._records)

    def requests_to(self, path: str) -> list[GitHubRequest]:  # "/user": no /api/v3 prefix
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> str:
        """Serve on a background thread; returns ``base_url``."""
        if self._server is not None:
            return self.base_url
        sock = socket.create_server((HOST, self._requested_port))
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, args=([sock],), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("FakeGitHub did not start")
            time.sleep(0.01)
        self._server, self._thread, self._port = server, thread, sock.getsockname()[1]
        return self.base_url

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        self._server = self._thread = self._port = None

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- routes --------------------------------------------------------------------

    def _endpoint(self, handler: _Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            response = handler(request, form)
            path = request.url.path.removeprefix(API_PREFIX)
            query, headers = dict(request.query_params), dict(request.headers)
            record = GitHubRequest(request.method, path, query, form, headers, response.status_code)
            with self._lock:
                self._records.append(record)
            return response

        return endpoint

    def _authorize(self, request: Request, form: dict[str, str]) -> Response:
        params = form if request.method == "POST" else dict(request.query_params)
        if params.get("client_id") != self.client_id:
            return HTMLResponse("<h1>404 Not Found</h1>", 404)
        state = params.get("state")
        redirect_uri = params.get("redirect_uri") or self.callback_url
        if redirect_uri is None:
            return HTMLResponse("<h1>No redirect_uri and no callback URL registered</h1>", 400)
        if not self._redirect_allowed(redirect_uri):
            assert self.callback_url is not None
            return _redirect_error(self.callback_url, state, "redirect_uri_mismatch", _MISMATCH)
        if params.get("code_challenge") and params.get("code_challenge_method", "S256") != "S256":
            return HTMLResponse("<h1>Only the S256 code_challenge_method is supported</h1>", 400)
        if request.method == "GET":
            return HTMLResponse(_consent_page(self.app_name, self._user, params))
        if form.get("authorize") != "1":
            denied = "The user has denied your application access."
            return _redirect_error(redirect_uri, state, "access_denied", denied)
        code = secrets.token_hex(10)
        with self._lock:
            scope, challenge = _granted_scope(params.get("scope", "")), params.get("code_challenge")
            self._grants[code] = _Grant(redirect_uri, scope, challenge or None, self._user)
        query = {"code": code, **({"state": state} if state is not None else {})}
        return RedirectResponse(_add_query(redirect_uri, query), 302)

    def _redirect_allowed(self, redirect_uri: str) -> bool:
        """GitHub's rule: same host, path under the callback's; loopback ignores the port."""
        if self.callback_url is None:
            return True
        want, got = urlsplit(self.callback_url), urlsplit(redirect_uri)
        base = want.path.rstrip("/")
        return (
            (got.scheme, got.hostname) == (want.scheme, want.hostname)
            and (got.port == want.port or got.hostname in ("127.0.0.1", "localhost", "::1"))
            and (got.path in (want.path, base) or got.path.startswith(base + "/"))
        )

    def _access_token(self, request: Request, form: dict[str, str]) -> Response:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            decoded = base64.b64decode(auth[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        as_json = "application/json" in request.headers.get("accept", "")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            wrong = "The client_id and/or client_secret passed are incorrect."
            return _token_error(as_json, "incorrect_client_credentials", wrong)
        with self._lock:
            grant = self._grants.get(form.get("code", ""))
            verifier = form.get("code_verifier") or ""
            challenge = grant.challenge if grant else None
            pkce_ok = challenge is None or create_s256_code_challenge(verifier) == challenge
            if grant is None or not pkce_ok:
                bad = "The code passed is incorrect or expired."
                return _token_error(as_json, "bad_verification_code", bad)
            if form.get("redirect_uri") not in (None, grant.redirect_uri):
                return _token_error(as_json, "redirect_uri_mismatch", _MISMATCH, "2")
            del self._grants[form["code"]]  # a code works once
            token = "gho_" + secrets.token_urlsafe(27)[:36]
            self._tokens[token] = (grant.user, grant.scope)
        body = {"access_token": token, "token_type": "bearer", "scope": grant.scope}
        return _token_answer(as_json, body)

    def _api(self, request: Request, form: dict[str, str]) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            return _api_error(401, "Requires authentication", "/rest/users/users")
        with self._lock:
            found = self._tokens.get(token.strip())
        if found is None:
            return _api_error(401, "Bad credentials", "/rest")
        user, scope = found
        if not request.url.path.endswith("/emails"):
            return _api_json(self._user_json(user), scope)
        if not {"user", "user:email"} & set(scope.split(",")):
            return _api_error(404, "Not Found", "/rest/users/emails")
        emails = [
            {"email": email, "primary": primary, "verified": verified, "visibility": visibility}
            for email, primary, verified in user.emails
            for visibility in [
                "public" if email == user.public_email else "private" if primary else None
            ]
        ]
        return _api_json(emails, scope)

    def _user_json(self, user: GitHubUser) -> dict[str, Any]:
        """GET /user for the authenticated user (the profile fields an app may read)."""
        return {
            "login": user.login,
            "id": user.id,
            "avatar_url": f"{self.base_url}/avatars/u/{user.id}?v=4",
            "html_url": f"{self.base_url}/{user.login}",
            "type": "User",
            "site_admin": False,
            "name": user.name,
            "email": user.public_email,
            "created_at": "2011-01-25T18:44:36Z",
        }


def _granted_scope(requested: str) -> str:
    """GitHub takes space- (or comma-) separated scopes and reports them comma-separated."""
    return ",".join(dict.fromkeys(s for s in requested.replace(",", " ").split() if s))


def _add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query), *params.items()])))


def _redirect_error(uri: str, state: str | None, error: str, description: str) -> Response:
    anchor = "#" + error.replace("_", "-")
    params = {"error": error, "error_description": description, "error_uri": _AUTHZ_ERRORS + anchor}
    if state is not None:
        params["state"] = state
    return RedirectResponse(_add_query(uri, params), 302)


def _token_error(as_json: bool, error: str, description: str, suffix: str = "") -> Response:
    """GitHub answers token errors with HTTP 200."""
    anchor = "#" + error.replace("_", "-") + suffix
    body = {"error": error, "error_description": description, "error_uri": _TOKEN_ERRORS + anchor}
    return _token_answer(as_json, body)


def _token_answer(as_json: bool, body: dict[str, str]) -> Response:
    """JSON with ``Accept: application/json``; GitHub's default is form encoding."""
    urlencoded = Response(urlencode(body), media_type="application/x-www-form-urlencoded")
    return JSONResponse(body) if as_json else urlencoded


def _api_error(status: int, message: str, docs: str) -> Response:
    body = {"message": message, "documentation_url": DOCS + docs, "status": str(status)}
    return JSONResponse(body, status)


def _avatar(request: Request) -> Response:
    return Response('<svg xmlns="http://www.w3.org/2000/svg"/>', media_type="image/svg+xml")


def _api_json(payload: object, scope: str) -> Response:
    headers = {"X-OAuth-Scopes": ", ".join(scope.split(",")) if scope else ""}
    return JSONResponse(payload, headers=headers)


def _consent_page(app_name: str, user: GitHubUser, params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    scope = html.escape(params.get("scope", "") or "(no scope)")
    return (
        f"<!doctype html><title>Authorize application</title><h1>Authorize {html.escape(app_name)}"
        f"</h1><p>Signed in as <strong>{html.escape(user.login)}</strong>. Scopes: {scope}</p>"
        f'<form method="post" action="/login/oauth/authorize">{hidden}'
        '<button type="submit" name="authorize" value="0">Cancel</button> '
        '<button type="submit" name="authorize" value="1">Authorize</button></form>'
    )


# --- Playwright (sync API): act as the user on the consent page ---------------------


def authorize(page: Page) -> None:
    """Press Authorize; returns once the browser is back at the app's redirect_uri."""
    _press_and_leave(page, "Authorize")


def cancel(page: Page) -> None:
    """Press Cancel: the app gets ``error=access_denied&error_description=...&state=...``."""
    _press_and_leave(page, "Cancel")


def _press_and_leave(page: Page, button: str) -> None:
    fake = urlsplit(page.url).netloc
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(lambda url: urlsplit(url).netloc != fake)
