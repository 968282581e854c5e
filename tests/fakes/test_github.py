"""The scripted GitHub speaks GitHub's OAuth web flow and REST shapes to authlib over HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.fakes.github import FakeGitHub

CALLBACK = "http://127.0.0.1:9/auth/github/callback"  # never contacted: we read Location


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(callback_url=CALLBACK) as fake:
        yield fake


def oauth_client(github: FakeGitHub, secret: str | None = None) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        github.client_id,
        secret or github.client_secret,
        scope="read:user user:email",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )


async def press(url: str, button: str) -> dict[str, str]:
    """What the browser does on the consent page; returns the redirect's query params."""
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code == 200 and ">Authorize</button>" in page.text
        hidden = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)
        form = {html.unescape(k): html.unescape(v) for k, v in hidden}
        assert form == {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        choice = {"authorize": "1" if button == "Authorize" else "0"}
        answer = await http.post(str(page.url.join(action[1])), data={**form, **choice})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.split("?")[0] == CALLBACK
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_web_flow_with_pkce_then_user_and_emails(github: FakeGitHub) -> None:
    github.set_user(
        id=4242,
        login="ada",
        name="Ada Lovelace",
        emails=[("ada@work.example", False, True), ("ada@home.example", True, True)],
    )
    verifier = generate_token(48)
    async with oauth_client(github) as oauth:
        url, state = oauth.create_authorization_url(github.authorize_url, code_verifier=verifier)
        params = await press(url, "Authorize")
        assert params["state"] == state
        token = await oauth.fetch_token(
            github.access_token_url, code=params["code"], code_verifier=verifier
        )
        assert token["access_token"].startswith("gho_")
        assert token["scope"] == "read:user,user:email"
        user = await oauth.get(f"{github.api_url}/user")
        emails = await oauth.get(f"{github.api_url}/user/emails")

    assert user.status_code == 200
    assert {k: user.json()[k] for k in ("id", "login", "name", "email")} == {
        "id": 4242,
        "login": "ada",
        "name": "Ada Lovelace",
        "email": None,  # no public email: the app has to ask /user/emails
    }
    assert httpx.get(user.json()["avatar_url"]).headers["content-type"] == "image/svg+xml"
    assert emails.json() == [
        {"email": "ada@work.example", "primary": False, "verified": True, "visibility": None},
        {"email": "ada@home.example", "primary": True, "verified": True, "visibility": "private"},
    ]
    authorize = github.requests_to("/login/oauth/authorize")[0]
    assert authorize.query["code_challenge_method"] == "S256"
    assert github.requests_to("/user/emails")[0].headers["authorization"].startswith("Bearer ")


async def test_code_needs_its_verifier_secret_and_works_once(github: FakeGitHub) -> None:
    verifier = generate_token(48)
    async with oauth_client(github) as oauth:
        url, _ = oauth.create_authorization_url(github.authorize_url, code_verifier=verifier)
        code = (await press(url, "Authorize"))["code"]
        with pytest.raises(OAuthError) as wrong_verifier:
            await oauth.fetch_token(
                github.access_token_url, code=code, code_verifier=generate_token(48)
            )
        assert wrong_verifier.value.error == "bad_verification_code"
        async with oauth_client(github, secret="leaked-or-stale") as wrong:
            with pytest.raises(OAuthError) as bad_secret:
                await wrong.fetch_token(github.access_token_url, code=code, code_verifier=verifier)
        assert bad_secret.value.error == "incorrect_client_credentials"

        await oauth.fetch_token(github.access_token_url, code=code, code_verifier=verifier)
        assert (await oauth.get(f"{github.api_url}/user")).json()["login"] == "octocat"
        with pytest.raises(OAuthError) as replayed:
            await oauth.fetch_token(github.access_token_url, code=code, code_verifier=verifier)
        assert replayed.value.error == "bad_verification_code"

        github.revoke_tokens()
        revoked = await oauth.get(f"{github.api_url}/user")
        assert revoked.status_code == 401 and revoked.json()["message"] == "Bad credentials"

    answers = [r.status for r in github.requests_to("/login/oauth/access_token")]
    assert answers == [200, 200, 200, 200]  # GitHub reports token errors with HTTP 200


async def test_cancel_and_wrong_redirect_uri_come_back_as_errors(github: FakeGitHub) -> None:
    async with oauth_client(github) as oauth:
        url, state = oauth.create_authorization_url(
            github.authorize_url, code_verifier=generate_token(48)
        )
        params = await press(url, "Cancel")
        assert params == {
            "error": "access_denied",
            "error_description": "The user has denied your application access.",
            "error_uri": "/apps/building-integrations/setting-up-and-registering-oauth-apps/"
            "troubleshooting-authorization-request-errors/#access-denied",
            "state": state,
        }

        url, state = oauth.create_authorization_url(
            github.authorize_url, redirect_uri="http://127.0.0.1:9/elsewhere"
        )
        async with httpx.AsyncClient() as http:
            mismatch = await http.get(url)
    assert mismatch.status_code == 302
    assert mismatch.headers["location"].startswith(CALLBACK + "?error=redirect_uri_mismatch")
    assert f"state={state}" in mismatch.headers["location"]


async def test_emails_need_the_user_email_scope(github: FakeGitHub) -> None:
    verifier = generate_token(48)
    async with oauth_client(github) as oauth:
        oauth.scope = "read:user"
        url, _ = oauth.create_authorization_url(github.authorize_url, code_verifier=verifier)
        code = (await press(url, "Authorize"))["code"]
        token = await oauth.fetch_token(github.access_token_url, code=code, code_verifier=verifier)
        assert token["scope"] == "read:user"
        assert (await oauth.get(f"{github.api_url}/user")).status_code == 200
        emails = await oauth.get(f"{github.api_url}/user/emails")
    assert emails.status_code == 404 and emails.json()["message"] == "Not Found"
