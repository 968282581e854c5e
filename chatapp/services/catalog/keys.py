"""Users' own provider API keys: sealed with AES-256-GCM at rest, checked against the provider.

The data key is HKDF-SHA256 of the server secret (`CHATAPP_SECRET_KEY`). Each key is sealed
with a fresh 12-byte nonce, and the owner's id and the provider are bound in as associated
data, so a ciphertext copied to another user's row (or another provider's) fails to open.
Ciphertexts name the secret they were sealed under, so the secret can be rotated: previous
secrets (`CHATAPP_SECRET_KEY_PREVIOUS`) still open them until `reseal_all` re-seals them.
A decrypted key is handed only to a provider adapter: it is never returned to the UI layer,
logged, or put in an error message. Only its last four characters are kept in clear.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, select

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import NotFoundError, ProviderError, ValidationError
from chatapp.models import ApiKey, User
from chatapp.models.base import utcnow
from chatapp.providers import failures
from chatapp.providers.catalog import PROVIDERS, key_providers
from chatapp.providers.registry import build_provider
from chatapp.services.catalog.serving import server_base_url

log = logging.getLogger(__name__)

HKDF_INFO = b"chatapp/api-keys/v1"
NONCE_BYTES = 12
MIN_KEY_CHARS = 8  # shorter would leave little beyond the four characters shown
MAX_KEY_CHARS = 400
CHECK_TIMEOUT_SECONDS = 15.0
MAX_MESSAGE_CHARS = 300  # ApiKey.test_message's column
SIGN_IN_MESSAGE = "Sign in to use your own API keys."
CHECK_OK_MESSAGE = "The key works."


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown of a stored key: never the key itself."""

    provider: str
    label: str
    last4: str
    updated_at: datetime
    tested_at: datetime | None
    test_ok: bool | None  # None: not tested since it was saved
    test_message: str | None


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The result of trying a key against its provider; `message` is safe to show."""

    ok: bool
    message: str


# --- sealing -----------------------------------------------------------------------------
#
# A sealed key is VERSION ‖ key id (8 bytes) ‖ nonce (12) ‖ ciphertext ‖ GCM tag. The key id
# names the server secret it was sealed under (an HKDF output, which says nothing about the
# secret), so after a rotation the right one of CHATAPP_SECRET_KEY_PREVIOUS opens it at once.
# Keys sealed before versions existed (nonce first) are opened by trying each secret in turn.

VERSION = b"\x02"
KEY_ID_BYTES = 8
HKDF_KEY_ID_INFO = b"chatapp/api-keys/key-id/v1"


@dataclass(frozen=True, slots=True)
class _DataKey:
    key_id: bytes
    cipher: AESGCM


@lru_cache(maxsize=32)
def _data_key(secret: str) -> _DataKey:
    def derive(info: bytes, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                    info=info).derive(secret.encode())

    return _DataKey(derive(HKDF_KEY_ID_INFO, KEY_ID_BYTES), AESGCM(derive(HKDF_INFO, 32)))


def _current(settings: Settings) -> _DataKey:
    return _data_key(settings.secret)


def _known(settings: Settings) -> list[_DataKey]:
    """The current secret first, then the previous ones."""
    return [_current(settings), *(_data_key(s) for s in settings.previous_secrets)]


def _associated_data(user_id: str, provider: str) -> bytes:
    return f"{user_id}\n{provider}".encode()


def seal(settings: Settings, *, user_id: str, provider: str, plaintext: str) -> bytes:
    """VERSION ‖ key id ‖ nonce ‖ ciphertext ‖ tag, under the current secret, bound to this
    user and provider."""
    key = _current(settings)
    nonce = os.urandom(NONCE_BYTES)
    sealed = key.cipher.encrypt(nonce, plaintext.encode(), _associated_data(user_id, provider))
    return VERSION + key.key_id + nonce + sealed


def _open(settings: Settings, *, user_id: str, provider: str,
          ciphertext: bytes) -> tuple[str, bool]:
    """(the key, whether it was sealed under the current secret in the current format)."""
    aad = _associated_data(user_id, provider)
    known = _known(settings)
    head = len(VERSION) + KEY_ID_BYTES
    if ciphertext[:1] == VERSION:
        key_id = ciphertext[1:head]
        for index, key in enumerate(known):
            if key.key_id == key_id:
                nonce, body = ciphertext[head:head + NONCE_BYTES], ciphertext[head + NONCE_BYTES:]
                return key.cipher.decrypt(nonce, body, aad).decode(), index == 0
    for key in known:  # the unversioned format: nonce ‖ ciphertext ‖ tag
        with contextlib.suppress(InvalidTag, ValueError):
            nonce, body = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
            return key.cipher.decrypt(nonce, body, aad).decode(), False
    raise InvalidTag()


def unseal(settings: Settings, *, user_id: str, provider: str, ciphertext: bytes) -> str:
    """The key; raises cryptography's InvalidTag when the bytes were altered, moved to
    another row, or sealed under a secret that is neither current nor listed as previous."""
    return _open(settings, user_id=user_id, provider=provider, ciphertext=ciphertext)[0]


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `reseal_all` did: keys re-sealed, already current, and those no secret opens
    (listed by user and provider, never the key): their owners must paste them again."""

    resealed: int
    current: int
    unreadable: list[tuple[str, str]]


def reseal_all(session: Session, *, settings: Settings) -> Rotation:
    """Re-seal every stored key under the current secret, after CHATAPP_SECRET_KEY changed
    (the old one in CHATAPP_SECRET_KEY_PREVIOUS). Idempotent; the caller commits."""
    resealed = current = 0
    unreadable: list[tuple[str, str]] = []
    for row in session.exec(select(ApiKey).order_by(col(ApiKey.id))).all():
        try:
            plaintext, up_to_date = _open(settings, user_id=row.user_id, provider=row.provider,
                                          ciphertext=row.ciphertext)
        except (InvalidTag, ValueError):
            unreadable.append((row.user_id, row.provider))
            continue
        if up_to_date:
            current += 1
            continue
        row.ciphertext = seal(settings, user_id=row.user_id, provider=row.provider,
                              plaintext=plaintext)
        session.add(row)
        resealed += 1
    session.flush()
    return Rotation(resealed, current, unreadable)


# --- validation --------------------------------------------------------------------------


def _require_key_provider(provider: str) -> str:
    if provider not in key_providers():
        raise ValidationError(
            "provider takes no key", user_message="That provider does not take an API key."
        )
    return provider


def _require_signed_in(session: Session, user_id: str) -> None:
    user = session.get(User, user_id)
    if user is None or user.is_anonymous:
        raise ValidationError("anonymous user", user_message=SIGN_IN_MESSAGE)


def _clean(plaintext: str) -> str:
    """The key as pasted, trimmed; refused (without quoting it) when it cannot be one."""
    key = plaintext.strip()
    if not key:
        raise ValidationError("empty key", user_message="Paste a key first.")
    if len(key) > MAX_KEY_CHARS:
        raise ValidationError(
            "key too long", user_message=f"That is too long for an API key ({MAX_KEY_CHARS} "
            "characters at most)."
        )
    if len(key) < MIN_KEY_CHARS:
        raise ValidationError("key too short", user_message="That is too short for an API key.")
    # It travels in an HTTP header: printable ASCII only, no spaces or line breaks.
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise ValidationError(
            "key has odd characters",
            user_message="An API key is one line of letters, digits and symbols, no spaces.",
        )
    return key


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.provider, PROVIDERS[row.provider].label, row.last4, row.updated_at,
                   row.tested_at, row.test_ok, row.test_message)


def _row(session: Session, user_id: str, provider: str) -> ApiKey | None:
    return session.exec(
        select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.provider == provider)
    ).first()


# --- storing -----------------------------------------------------------------------------


def save_key(
    session: Session, *, settings: Settings, user_id: str, provider: str, plaintext: str
) -> KeyInfo:
    """Store (or replace) the user's key for `provider`; a replaced key's test result goes."""
    _require_key_provider(provider)
    _require_signed_in(session, user_id)
    key = _clean(plaintext)
    sealed = seal(settings, user_id=user_id, provider=provider, plaintext=key)
    row = _row(session, user_id, provider) or ApiKey(user_id=user_id, provider=provider,
                                                       ciphertext=b"", last4="")
    row.ciphertext, row.last4, row.updated_at = sealed, key[-4:], utcnow()
    row.tested_at = row.test_ok = row.test_message = None
    session.add(row)
    session.flush()
    return _info(row)


def list_keys(session: Session, *, user_id: str) -> list[KeyInfo]:
    """The user's stored keys, in catalog order of their providers."""
    rows = session.exec(select(ApiKey).where(ApiKey.user_id == user_id)).all()
    order = {p: i for i, p in enumerate(key_providers())}
    return [_info(r) for r in sorted(rows, key=lambda r: order.get(r.provider, len(order)))
            if r.provider in order]


def own_key_providers(session: Session, *, user_id: str) -> set[str]:
    """The providers the user stored a key for (nothing is decrypted)."""
    found = session.exec(select(ApiKey.provider).where(ApiKey.user_id == user_id)).all()
    return {p for p in found if p in key_providers()}


def delete_key(session: Session, *, user_id: str, provider: str) -> None:
    """Forget the user's key for `provider`; NotFoundError when there is none."""
    row = _row(session, user_id, _require_key_provider(provider))
    if row is None:
        raise NotFoundError("no key stored")
    session.delete(row)
    session.flush()


def load_key(session: Session, *, settings: Settings, user_id: str, provider: str) -> str | None:
    """The user's decrypted key for `provider`, or None when there is none or it does not
    open (tampered, moved from another row, or the server secret changed): that is logged
    by user and provider only, and the key then counts as missing."""
    row = _row(session, user_id, provider)
    if row is None or provider not in key_providers():
        return None
    try:
        return unseal(settings, user_id=user_id, provider=provider, ciphertext=row.ciphertext)
    except (InvalidTag, ValueError):
        log.warning("stored API key of user %s for %s does not decrypt; ignoring it",
                    user_id, provider)
        return None


def load_keys(
    session: Session, *, settings: Settings, user_id: str,
    providers: Collection[str] | None = None,
) -> dict[str, str]:
    """provider → decrypted key, for `providers` (all of the user's when None), for
    `models.resolve(..., own_keys=...)`. Keys that do not decrypt are left out."""
    wanted = own_key_providers(session, user_id=user_id)
    if providers is not None:
        wanted &= set(providers)
    found = {p: load_key(session, settings=settings, user_id=user_id, provider=p)
             for p in sorted(wanted)}
    return {p: k for p, k in found.items() if k is not None}


# --- checking ----------------------------------------------------------------------------


async def check_key(settings: Settings, provider: str, plaintext: str) -> KeyCheck:
    """Try the key with one real request to the provider (listing its models), at the base
    URL this server uses for it. The message is the provider error's user message."""
    preset = PROVIDERS[_require_key_provider(provider)]
    adapter = None
    try:
        adapter = build_provider(
            preset, api_key=plaintext, base_url=server_base_url(settings, provider),
            timeout=min(settings.request_timeout_seconds, CHECK_TIMEOUT_SECONDS),
        )
        await adapter.check()
    except ProviderError as exc:
        log.info("checking a %s key failed: %s (status %s)", provider, type(exc).__name__,
                 exc.status_code)
        message = failures.redact(exc.user_message, plaintext)
        return KeyCheck(False, message[:MAX_MESSAGE_CHARS])
    except Exception as exc:
        # Unexpected: say only what kind of failure it was, since its text could quote the key.
        log.warning("checking a %s key raised %s", provider, type(exc).__name__)
        return KeyCheck(False, "The key could not be checked. Try again later.")
    finally:
        if adapter is not None:
            with contextlib.suppress(Exception):
                await adapter.aclose()
    return KeyCheck(True, CHECK_OK_MESSAGE)


def record_check(session: Session, *, user_id: str, provider: str, result: KeyCheck) -> KeyInfo:
    """Store the outcome of a check on the user's key; NotFoundError when it is gone."""
    row = _row(session, user_id, _require_key_provider(provider))
    if row is None:
        raise NotFoundError("no key stored")
    row.tested_at, row.test_ok = utcnow(), result.ok
    row.test_message = result.message[:MAX_MESSAGE_CHARS]
    session.add(row)
    session.flush()
    return _info(row)


async def check_saved_key(settings: Settings, *, user_id: str, provider: str) -> KeyInfo:
    """Check the user's stored key against its provider and record the result: the one call
    the settings page makes, so the decrypted key never leaves this module."""
    _require_key_provider(provider)
    plaintext = await db.run(
        lambda s: load_key(s, settings=settings, user_id=user_id, provider=provider)
    )
    if plaintext is None:
        stored = await db.run(lambda s: _row(s, user_id, provider) is not None)
        if not stored:
            raise NotFoundError("no key stored")
        result = KeyCheck(False, "The stored key cannot be read any more. Paste it again.")
    else:
        result = await check_key(settings, provider, plaintext)
    return await db.run(
        lambda s: record_check(s, user_id=user_id, provider=provider, result=result)
    )
