"""Every exception chatapp raises on purpose, with the message a user may see."""

from __future__ import annotations

import functools


class ChatappError(Exception):
    """Base of all chatapp errors. `user_message` is safe to show in the UI; `retryable` says
    whether trying the same thing again can help (the UI offers Retry only then)."""

    user_message: str = "Something went wrong."
    retryable: bool = True

    def __init__(self, detail: str = "", *, user_message: str | None = None) -> None:
        super().__init__(detail or user_message or self.user_message)
        if user_message is not None:
            self.user_message = user_message


class NotFoundError(ChatappError):
    """The thing does not exist, or it belongs to someone else (deliberately the same)."""

    user_message = "Not found."


class ValidationError(ChatappError):
    """User input that cannot be accepted; the message says why."""

    user_message = "That input is not valid."


class OwnKeyUnavailableError(ChatappError):
    """A reply admitted on the user's own key, whose key was deleted since or no longer opens
    (the server secret changed): it fails, and is never sent on the server's key instead."""

    retryable = False  # not until the key is added again

    def __init__(self, provider_label: str) -> None:
        message = (f"Your own {provider_label} key was removed or can no longer be read, so "
                   "nothing was sent. Add it again under Settings → API keys, or pick another "
                   "model, then retry.")
        super().__init__(f"own {provider_label} key unavailable", user_message=message)


class SessionExpiredError(ChatappError):
    """The browser's session cookie is missing, revoked or expired."""

    user_message = "Your session has expired. Reload the page to continue."


class ConfigurationError(ChatappError):
    """Settings that cannot work (refused at start-up)."""

    user_message = "The server is misconfigured."


# --- providers -----------------------------------------------------------------


class ProviderError(ChatappError):
    """A provider request failed. Subclasses say how; `retryable` hints at Retry."""

    user_message = "The model provider returned an error."
    status_code: int | None = None

    def __init__(
        self,
        detail: str = "",
        *,
        user_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(detail, user_message=user_message)
        if status_code is not None:
            self.status_code = status_code


class ProviderAuthError(ProviderError):
    """401/403: the API key is missing, wrong or revoked."""

    user_message = "The provider rejected the API key. Check the key in settings."
    retryable = False


class ProviderRateLimitError(ProviderError):
    """429: too many requests or quota exhausted."""

    user_message = "The provider is rate limiting requests. Wait a moment and retry."


class ProviderUnavailableError(ProviderError):
    """5xx, or the provider could not be reached at all."""

    user_message = "The provider is unavailable right now. Retry in a moment."


class ProviderTimeoutError(ProviderError):
    """No answer within the timeout."""

    user_message = "The provider took too long to answer. Retry in a moment."


class ProviderConnectionError(ProviderError):
    """The network failed, including a stream cut off mid-reply."""

    user_message = "The connection to the provider was lost. Retry to try again."


class ContextLengthError(ProviderError):
    """The conversation is longer than the model's context window."""

    user_message = (
        "This conversation is too long for the model's context window. "
        "Start a new chat or pick a model with a larger context."
    )
    retryable = False


class ProviderBadRequestError(ProviderError):
    """400/404/422 for any other reason (unknown model, bad parameter)."""

    user_message = "The provider refused the request."
    retryable = False


class ModelUnavailableError(ProviderError):
    """The model is not configured here (no key, or the local model is not running)."""

    user_message = "This model is not available."
    retryable = False

# --- budgets ---------------------------------------------------------------------------


class BudgetExceededError(ChatappError):
    """The request's worst-case cost does not fit in what is left of an allowance."""

    user_message = "You've used your allowance for now."

    def __init__(self, *, wait_seconds: int | None, anonymous: bool, wait: str = "") -> None:
        # None: the request alone costs more than the whole allowance, so waiting cannot help.
        self.wait_seconds = wait_seconds
        self.anonymous = anonymous  # the UI offers sign-in then, else the user's own key
        if wait_seconds is None:
            message = ("This message could cost more than your whole allowance. "
                       "Try a shorter conversation or a cheaper model.")
        else:  # `wait`: how long, as people say it ("2 h 5 min")
            message = f"You've used your allowance for now: enough refills in {wait}."
        if anonymous:
            message += " Sign in for a bigger allowance."
        super().__init__(message, user_message=message)


# --- identity --------------------------------------------------------------------------


class UnverifiedEmailError(ChatappError):
    user_message = (
        "Your email address at that provider is not verified. Verify it there, then sign in again."
    )


class EmailInUseError(ChatappError):
    """An account already uses this email, and the provider may not link into it by email."""

    user_message = (
        "An account with this email address already exists. Sign in the way you did before, "
        "then add this sign-in method from your account page."
    )

    def __init__(self, detail: str = "", *, methods: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.methods = methods  # provider ids the existing account signs in with


class TooManyVisitorsError(ChatappError):
    user_message = ("Too many new visitors from your network right now. Sign in, or try "
                    "again within the hour.")



def retryable(error_code: str | None) -> bool:
    """Whether a reply that failed with this error class (its stored `error_code`) is worth
    retrying as it is; unknown codes (older rows, "Interrupted") are."""
    found = _by_name().get(error_code or "")
    return found.retryable if found is not None else True


@functools.cache  # every error class is defined in this module, before the first call
def _by_name() -> dict[str, type[ChatappError]]:
    classes: dict[str, type[ChatappError]] = {}
    stack: list[type[ChatappError]] = [ChatappError]
    while stack:
        cls = stack.pop()
        classes[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    return classes
