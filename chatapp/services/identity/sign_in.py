"""Which sign-in providers are configured, and what a failed sign-in tells the user."""

from __future__ import annotations

from dataclasses import dataclass

from chatapp.config import Settings
from chatapp.errors import EmailInUseError, UnverifiedEmailError

ERROR_CODES = {
    "cancelled": "Sign-in was cancelled. You are still using chatapp without an account.",
    "invalid": "That sign-in link was invalid or had already been used. Please try again.",
    "unverified": UnverifiedEmailError.user_message,
    "provider_error": "The sign-in provider reported an error. Please try again later.",
    "unknown_provider": "That sign-in method is not available on this server.",
    "email_in_use": EmailInUseError.user_message,
}


@dataclass(frozen=True, slots=True)
class SignInProvider:
    id: str  # github | google | oidc
    label: str
    client_id: str
    client_secret: str
    issuer: str  # empty for GitHub (plain OAuth 2.0)
    scope: str


def configured_providers(settings: Settings) -> list[SignInProvider]:
    """Providers with a client id and secret; only these get a button."""
    found: list[SignInProvider] = []
    if settings.github_client_id and settings.github_client_secret:
        found.append(SignInProvider(
            "github", "GitHub", settings.github_client_id,
            settings.github_client_secret.get_secret_value(), "", "read:user user:email"))
    if settings.google_client_id and settings.google_client_secret:
        found.append(SignInProvider(
            "google", "Google", settings.google_client_id,
            settings.google_client_secret.get_secret_value(), settings.google_issuer,
            "openid email profile"))
    if settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret:
        found.append(SignInProvider(
            "oidc", settings.oidc_name, settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(), settings.oidc_issuer,
            "openid email profile"))
    return found


def error_message(code: str, *, use: str = "", add: str = "",
                  providers: list[SignInProvider] | None = None) -> str:
    """The message for a failed sign-in; `email_in_use` names the methods by their labels.

    `use` and `add` come from the URL, so only ids of configured providers turn into words:
    a crafted link cannot put its own text on the page.
    """
    message = ERROR_CODES.get(code, "")
    labels = {p.id: p.label for p in providers or []}
    known = [labels[p] for p in dict.fromkeys(use.split(",")) if p in labels]
    if code != "email_in_use" or not known:
        return message
    new = f"add {labels[add]}" if add in labels else "add this sign-in method"
    return (f"An account with this email address already exists. Sign in with "
            f"{' or '.join(known)}, as you did before, then {new} from your account page.")


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
