"""The loopback OIDC provider speaks real OpenID Connect to authlib's client over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc import OidcProvider

REDIRECT_URI = "http://127.0.0.1:9/auth/callback"  # never contacted: the code is read off Location


@pytest.fixture
def idp() -> Iterator[OidcProvider]:
    with OidcProvider() as provider:
        yield provider


async def sign_in_over_http(url: str, sub: str | None, *, deny: bool = False) -> dict[str, str]:
    """Do what the user does on the authorization page; returns the redirect's query params."""
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code == 200
        assert 'name="sub"' in page.text and 'value="deny"' in page.text
        form = {"action": "deny"} if deny else {"sub": sub or ""}
        answer = await http.post(url, data=form)  # the forms post back to the same URL
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def oauth_client(client_id: str = "chatapp", secret: str = "s3cret") -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id,
        secret,
        scope="openid email profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )


async def test_code_flow_with_pkce_and_nonce_yields_a_valid_id_token(idp: OidcProvider) -> None:
    idp.set_user(
        "alice-1", email="alice@example.org", name="Alice", picture="http://127.0.0.1:9/a.png"
    )
    async with httpx.AsyncClient() as http:
        config = (await http.get(idp.discovery_url)).json()
        jwks = KeySet.import_key_set((await http.get(config["jwks_uri"])).json())
    assert config["issuer"] == idp.issuer
    assert config["authorization_endpoint"] == idp.authorization_endpoint
    assert config["token_endpoint"] == idp.token_endpoint

    verifier, nonce = generate_token(48), generate_token(20)
    async with oauth_client() as oauth:
        url, state = oauth.create_authorization_url(
            config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        params = await sign_in_over_http(url, "alice-1")
        assert params["state"] == state
        token = await oauth.fetch_token(
            config["token_endpoint"], code=params["code"], code_verifier=verifier
        )
        userinfo = (await oauth.get(config["userinfo_endpoint"])).json()

    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": "chatapp"},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True, "value": "alice-1"},
        exp={"essential": True},
    ).validate(decoded.claims)
    assert decoded.claims["email"] == "alice@example.org"
    assert decoded.claims["email_verified"] is True
    assert userinfo == {
        "sub": "alice-1",
        "email": "alice@example.org",
        "email_verified": True,
        "name": "Alice",
        "picture": "http://127.0.0.1:9/a.png",
    }
    authorize = idp.requests_to("/oauth2/authorize")[0]
    assert authorize.query["code_challenge_method"] == "S256"


async def test_a_code_needs_its_verifier_and_works_only_once(idp: OidcProvider) -> None:
    idp.set_user("bob", email="bob@example.org", email_verified=False)
    verifier = generate_token(48)
    async with oauth_client() as oauth:
        url, _ = oauth.create_authorization_url(
            idp.authorization_endpoint, code_verifier=verifier, nonce=generate_token(20)
        )
        code = (await sign_in_over_http(url, "bob"))["code"]

        with pytest.raises(OAuthError) as wrong:
            await oauth.fetch_token(idp.token_endpoint, code=code, code_verifier=generate_token(48))
        assert wrong.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as missing:
            await oauth.fetch_token(idp.token_endpoint, code=code)
        assert missing.value.error == "invalid_request"

        token = await oauth.fetch_token(idp.token_endpoint, code=code, code_verifier=verifier)
        assert token["token_type"] == "Bearer" and token["id_token"]
        userinfo = (await oauth.get(idp.userinfo_endpoint)).json()
        assert userinfo["email_verified"] is False

        with pytest.raises(OAuthError) as replayed:
            await oauth.fetch_token(idp.token_endpoint, code=code, code_verifier=verifier)
        assert replayed.value.error == "invalid_grant"


async def test_denial_and_registered_client_checks(idp: OidcProvider) -> None:
    async with oauth_client() as oauth:
        url, state = oauth.create_authorization_url(
            idp.authorization_endpoint, code_verifier=generate_token(48)
        )
        params = await sign_in_over_http(url, None, deny=True)
    assert params["error"] == "access_denied"
    assert params["state"] == state
    assert "code" not in params

    registered = idp.register_client([REDIRECT_URI])
    async with oauth_client(registered.client_id, "not-the-secret") as oauth:
        url, _ = oauth.create_authorization_url(
            idp.authorization_endpoint,
            code_verifier=generate_token(48),
            redirect_uri="http://127.0.0.1:9/elsewhere",
        )
        async with httpx.AsyncClient() as http:
            refused = await http.get(url)
        assert refused.status_code == 400  # no redirect to an unregistered URI
        assert "is not supported by client" in refused.json()["error_description"]

        verifier = generate_token(48)
        url, _ = oauth.create_authorization_url(idp.authorization_endpoint, code_verifier=verifier)
        code = (await sign_in_over_http(url, "carol"))["code"]
        with pytest.raises(OAuthError) as bad_secret:
            await oauth.fetch_token(idp.token_endpoint, code=code, code_verifier=verifier)
        assert bad_secret.value.error == "invalid_client"
