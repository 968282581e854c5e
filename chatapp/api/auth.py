"""Sign-in routes: OAuth 2.0 / OpenID Connect with authlib (state, nonce, PKCE), and sign-out."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from urllib.parse import urlencode

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatapp.api.cookies import served_over_https, session_cookie
from chatapp.config import Settings, get_settings
from chatapp.db import session_scope
from chatapp.errors import EmailInUseError, UnverifiedEmailError
from chatapp.services.identity import accounts, tokens
from chatapp.services.identity.sign_in import ERROR_CODES, configured_providers, safe_next

log = logging.getLogger(__name__)
NEXT_KEY = "chatapp_next"


def build_oauth(settings: Settings) -> OAuth:
    oauth = OAuth()
    for provider in configured_providers(settings):
        kwargs = {"scope": provider.scope, "code_challenge_method": "S256"}
        if provider.id == "github":
            oauth.register(
                "github",
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                authorize_url=f"{settings.github_base_url}/login/oauth/authorize",
                access_token_url=f"{settings.github_base_url}/login/oauth/access_token",
                api_base_url=settings.github_api_url.rstrip("/") + "/",
                client_kwargs=kwargs,
            )
        else:
            oauth.register(
                provider.id,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                server_metadata_url=provider.issuer.rstrip("/")
                + "/.well-known/openid-configuration",
                client_kwargs=kwargs,
            )
    return oauth


def _secure(request: Request, settings: Settings) -> bool:
    return served_over_https(settings, scheme=request.url.scheme, headers=request.headers)


def _fail(code: str, **params: str) -> RedirectResponse:
    assert code in ERROR_CODES
    return RedirectResponse(f"/signin?{urlencode({'error': code, **params})}", status_code=303)


class AuthRoutes:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.oauth = build_oauth(settings)

    def callback_url(self, request: Request, provider: str) -> str:
        base = self.settings.public_url or str(request.base_url)
        return f"{base.rstrip('/')}/auth/callback/{provider}"

    async def login(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        client = self.oauth.create_client(provider)
        if client is None:
            return _fail("unknown_provider")
        request.session[NEXT_KEY] = safe_next(request.query_params.get("next"))
        try:
            return await client.authorize_redirect(request, self.callback_url(request, provider))
        except Exception as exc:  # discovery document unreachable, bad issuer URL
            log.warning("sign-in with %s could not start: %s", provider, type(exc).__name__)
            return _fail("provider_error")

    async def callback(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        client = self.oauth.create_client(provider)
        if client is None:
            return _fail("unknown_provider")
        if request.query_params.get("error") == "access_denied":
            return _fail("cancelled")
        try:
            token = await client.authorize_access_token(request)
            profile = await self._profile(provider, client, token)
        except OAuthError as exc:
            # Wrong or missing state, a replayed or expired code, a bad nonce, a provider error.
            log.info("sign-in with %s refused: %s", provider, exc.error)
            return _fail("provider_error" if request.query_params.get("error") else "invalid")
        except Exception as exc:
            log.warning("sign-in with %s failed: %s", provider, type(exc).__name__)
            return _fail("provider_error")
        current = tokens.token_from_cookie_header(request.headers.get("cookie"))
        lifetime = timedelta(days=self.settings.session_days)

        def run() -> accounts.SignIn:
            with session_scope() as session:
                return accounts.sign_in(
                    session, profile=profile, current_token=current, session_lifetime=lifetime,
                    email_link_providers=self.settings.email_link_provider_ids,
                    user_agent=request.headers.get("user-agent"))

        try:
            result = await asyncio.to_thread(run)
        except UnverifiedEmailError:
            return _fail("unverified")
        except EmailInUseError as exc:
            # Back to /signin naming the way in; from there, on to the account page to add this.
            request.session.pop(NEXT_KEY, None)
            return _fail("email_in_use", use=",".join(exc.methods), add=provider,
                         next="/settings/account")
        target = request.session.pop(NEXT_KEY, "/")
        response = RedirectResponse(safe_next(target), status_code=303)
        response.headers.append("set-cookie", session_cookie(
            result.new_session.token, result.new_session.max_age_seconds,
            secure=_secure(request, self.settings)))
        return response

    async def _profile(self, provider: str, client, token: dict) -> accounts.ExternalProfile:  # type: ignore[no-untyped-def]
        if provider == "github":
            user = (await client.get("user", token=token)).raise_for_status().json()
            emails = (await client.get("user/emails", token=token)).raise_for_status().json()
            return accounts.github_profile(user, emails)
        claims = token.get("userinfo") or await client.userinfo(token=token)
        return accounts.oidc_profile(provider, claims)

    async def logout(self, request: Request) -> Response:
        token = tokens.token_from_cookie_header(request.headers.get("cookie"))

        def run() -> None:
            with session_scope() as session:
                accounts.sign_out(session, token=token)

        await asyncio.to_thread(run)
        response = RedirectResponse("/", status_code=303)
        response.headers.append("set-cookie", session_cookie(
            "", 0, secure=_secure(request, self.settings)))
        return response


def build_auth_app(settings: Settings | None = None) -> Starlette:
    """The sign-in routes; Reflex mounts its own app beneath them."""
    settings = settings or get_settings()
    routes = AuthRoutes(settings)
    return Starlette(
        routes=[
            Route("/auth/login/{provider}", routes.login, methods=["GET"]),
            Route("/auth/callback/{provider}", routes.callback, methods=["GET"]),
            Route("/auth/logout", routes.logout, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key.get_secret_value(),
                session_cookie="chatapp_oauth",
                max_age=600,
                same_site="lax",
                https_only=settings.public_https,
            )
        ],
    )
