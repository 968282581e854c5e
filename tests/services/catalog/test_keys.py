"""Own API keys: sealed at rest, bound to their row, checked against the provider, never shown."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, select

from chatapp import cli
from chatapp.config import LEGACY_DEFAULT_SECRET, Settings
from chatapp.errors import NotFoundError, ProviderAuthError, ValidationError
from chatapp.models import ApiKey, User
from chatapp.providers.catalog import key_providers
from chatapp.services.catalog import keys
from chatapp.services.identity import accounts
from tests.fakes.wire_server import ScriptedServer

GOOD = "sk-good-" + "a1b2c3d4e5f6a7b8c9d0e1f2"  # the only key the scripted server takes


def a_key() -> str:
    return f"sk-test-{secrets.token_hex(20)}"


def signed_in_user(session: Session) -> str:
    user = User(is_anonymous=False, email=f"{secrets.token_hex(4)}@example.org")
    session.add(user)
    session.commit()
    return user.id


@pytest.fixture
def alice(session: Session) -> str:
    return signed_in_user(session)


@pytest.fixture
def bob(session: Session) -> str:
    return signed_in_user(session)


@pytest.fixture(scope="module")
def wire() -> Iterator[ScriptedServer]:
    with ScriptedServer(accepted_keys={GOOD}) as server:
        yield server


@pytest.fixture
def wired(settings: Settings, wire: ScriptedServer) -> Settings:
    """Every hosted provider pointed at the scripted server (none has a server key)."""
    return settings.model_copy(update={
        "openai_base_url": wire.base_url, "anthropic_base_url": wire.anthropic_base_url,
        "gemini_base_url": wire.base_url, "openrouter_base_url": wire.base_url,
        "groq_base_url": wire.base_url,
    })


def save(session: Session, settings: Settings, user_id: str, provider: str, key: str
         ) -> keys.KeyInfo:
    info = keys.save_key(session, settings=settings, user_id=user_id, provider=provider,
                         plaintext=key)
    session.commit()
    return info


def load(session: Session, settings: Settings, user_id: str, provider: str) -> str | None:
    return keys.load_key(session, settings=settings, user_id=user_id, provider=provider)


def row(session: Session, user_id: str, provider: str) -> ApiKey:
    session.expire_all()
    found = session.exec(
        select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.provider == provider)
    ).one()
    return found


def set_ciphertext(session: Session, user_id: str, provider: str, ciphertext: bytes) -> None:
    target = row(session, user_id, provider)
    target.ciphertext = ciphertext
    session.add(target)
    session.commit()


# --- round trip ------------------------------------------------------------------------


def test_a_saved_key_round_trips_and_only_its_last_four_are_listed(
    session: Session, settings: Settings, alice: str
) -> None:
    key = a_key()
    info = save(session, settings, alice, "anthropic", f"  {key}\n")  # pasted with whitespace
    assert (info.provider, info.label, info.last4) == ("anthropic", "Anthropic", key[-4:])
    assert (info.tested_at, info.test_ok, info.test_message) == (None, None, None)
    assert load(session, settings, alice, "anthropic") == key
    assert keys.list_keys(session, user_id=alice) == [info]
    assert key not in repr(info)
    assert keys.own_key_providers(session, user_id=alice) == {"anthropic"}
    assert keys.load_keys(session, settings=settings, user_id=alice) == {"anthropic": key}
    assert load(session, settings, alice, "openai") is None


def test_replacing_a_key_keeps_one_row_and_forgets_the_old_test(
    session: Session, settings: Settings, alice: str
) -> None:
    first, second = a_key(), a_key()
    save(session, settings, alice, "openai", first)
    keys.record_check(session, user_id=alice, provider="openai", result=keys.KeyCheck(True, "ok"))
    session.commit()
    info = save(session, settings, alice, "openai", second)
    assert (info.last4, info.test_ok, info.tested_at) == (second[-4:], None, None)
    assert load(session, settings, alice, "openai") == second
    assert len(keys.list_keys(session, user_id=alice)) == 1


def test_each_encryption_uses_a_fresh_nonce(settings: Settings) -> None:
    key = a_key()
    one = keys.seal(settings, user_id="u", provider="openai", plaintext=key)
    two = keys.seal(settings, user_id="u", provider="openai", plaintext=key)
    head = len(keys.VERSION) + keys.KEY_ID_BYTES
    assert one[:head] == two[:head]  # the same format and secret
    assert one[head:head + keys.NONCE_BYTES] != two[head:head + keys.NONCE_BYTES]
    assert len(one) == head + keys.NONCE_BYTES + len(key) + 16  # nonce, sealed key, GCM tag


def test_deleting_a_key_and_deleting_the_account(
    session: Session, settings: Settings, alice: str, bob: str
) -> None:
    save(session, settings, alice, "openai", a_key())
    save(session, settings, alice, "groq", a_key())
    save(session, settings, bob, "openai", a_key())
    keys.delete_key(session, user_id=alice, provider="openai")
    session.commit()
    assert keys.own_key_providers(session, user_id=alice) == {"groq"}
    assert keys.own_key_providers(session, user_id=bob) == {"openai"}
    with pytest.raises(NotFoundError):
        keys.delete_key(session, user_id=alice, provider="openai")
    accounts.delete_account(session, user_id=alice)
    session.commit()
    session.expire_all()
    assert session.exec(select(ApiKey.user_id)).all() == [bob]


# --- what is refused -------------------------------------------------------------------


def test_anonymous_users_cannot_store_keys(session: Session, settings: Settings) -> None:
    anonymous = User()
    session.add(anonymous)
    session.commit()
    with pytest.raises(ValidationError) as exc:
        save(session, settings, anonymous.id, "openai", a_key())
    assert exc.value.user_message == "Sign in to use your own API keys."
    assert keys.list_keys(session, user_id=anonymous.id) == []


@pytest.mark.parametrize(("provider", "pasted", "message"), [
    ("local", "sk-test-0123456789", "That provider does not take an API key."),
    ("ollama", "sk-test-0123456789", "That provider does not take an API key."),
    ("nope", "sk-test-0123456789", "That provider does not take an API key."),
    ("openai", "   \n ", "Paste a key first."),
    ("openai", "sk-" + "x" * 398, "That is too long for an API key (400 characters at most)."),
    ("openai", "sk-1234", "That is too short for an API key."),
    ("openai", "sk-test 0123456789", "An API key is one line of letters, digits and symbols, "
     "no spaces."),
    ("openai", "sk-tëst-0123456789", "An API key is one line of letters, digits and symbols, "
     "no spaces."),
])
def test_unusable_input_is_refused_without_quoting_it(
    session: Session, settings: Settings, alice: str, provider: str, pasted: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        save(session, settings, alice, provider, pasted)
    assert exc.value.user_message == message
    if pasted.strip():
        assert pasted.strip() not in f"{exc.value} {exc.value.user_message} {exc.value.args}"
    assert keys.list_keys(session, user_id=alice) == []


def test_a_key_of_exactly_400_characters_is_accepted(
    session: Session, settings: Settings, alice: str
) -> None:
    key = "sk-" + "y" * 397
    save(session, settings, alice, "openai", key)
    assert load(session, settings, alice, "openai") == key


# --- tampering and moving ----------------------------------------------------------------


def test_a_tampered_ciphertext_is_refused_and_logged_without_the_key(
    session: Session, settings: Settings, alice: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = a_key()
    save(session, settings, alice, "openai", key)
    sealed = bytearray(row(session, alice, "openai").ciphertext)
    for index in (0, keys.NONCE_BYTES + 3, len(sealed) - 1):  # nonce, body, tag
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        set_ciphertext(session, alice, "openai", bytes(tampered))
        assert load(session, settings, alice, "openai") is None
    set_ciphertext(session, alice, "openai", bytes(sealed[:10]))  # truncated below a nonce
    assert load(session, settings, alice, "openai") is None
    set_ciphertext(session, alice, "openai", bytes(sealed))
    assert load(session, settings, alice, "openai") == key  # the original still opens
    warnings = [r for r in caplog.records if r.name == "chatapp.services.catalog.keys"]
    assert len(warnings) == 4
    assert all(alice in r.getMessage() and "openai" in r.getMessage() for r in warnings)
    assert key not in caplog.text and key[:-4] not in caplog.text


def test_a_ciphertext_moved_to_another_user_or_provider_is_refused(
    session: Session, settings: Settings, alice: str, bob: str
) -> None:
    alices_key = a_key()
    save(session, settings, alice, "openai", alices_key)
    save(session, settings, alice, "groq", a_key())
    save(session, settings, bob, "openai", a_key())
    stolen = row(session, alice, "openai").ciphertext

    set_ciphertext(session, bob, "openai", stolen)  # copied into Bob's row
    assert load(session, settings, bob, "openai") is None
    set_ciphertext(session, alice, "groq", stolen)  # into Alice's row for another provider
    assert load(session, settings, alice, "groq") is None
    assert keys.load_keys(session, settings=settings, user_id=alice) == {"openai": alices_key}


def test_another_server_secret_cannot_open_the_keys(
    session: Session, settings: Settings, alice: str
) -> None:
    save(session, settings, alice, "openai", a_key())
    other = settings.model_copy(update={"secret_key": SecretStr("another-secret")})
    assert load(session, other, alice, "openai") is None


# --- rotating the server secret ------------------------------------------------------------

ROTATED = "the-new-server-secret-of-enough-length"


def legacy_seal(secret: str, *, user_id: str, provider: str, plaintext: str) -> bytes:
    """How keys were sealed before ciphertexts named their secret: nonce ‖ ciphertext ‖ tag."""
    data_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=keys.HKDF_INFO).derive(secret.encode())
    nonce = secrets.token_bytes(keys.NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode(),
                                            f"{user_id}\n{provider}".encode())


def test_after_a_rotation_the_previous_secret_opens_old_keys_until_they_are_resealed(
    session: Session, settings: Settings, alice: str, bob: str
) -> None:
    alices, bobs = a_key(), a_key()
    save(session, settings, alice, "openai", alices)
    session.commit()
    # Bob's key dates from before ciphertexts named their secret.
    session.add(ApiKey(user_id=bob, provider="groq", last4=bobs[-4:], ciphertext=legacy_seal(
        settings.secret, user_id=bob, provider="groq", plaintext=bobs)))
    session.commit()
    rotated = settings.model_copy(update={"secret_key": SecretStr(ROTATED),
                                          "secret_key_previous": settings.secret_key})
    new_only = settings.model_copy(update={"secret_key": SecretStr(ROTATED)})
    assert load(session, new_only, alice, "openai") is None  # without the old one: unreadable

    assert load(session, rotated, alice, "openai") == alices
    assert load(session, rotated, bob, "groq") == bobs
    report = keys.reseal_all(session, settings=rotated)
    session.commit()

    assert (report.resealed, report.current, report.unreadable) == (2, 0, [])
    assert load(session, new_only, alice, "openai") == alices  # the old secret can go now
    assert load(session, new_only, bob, "groq") == bobs
    assert load(session, settings, alice, "openai") is None  # nor does the old one open them
    again = keys.reseal_all(session, settings=new_only)
    assert (again.resealed, again.current, again.unreadable) == (0, 2, [])


def test_rotate_keys_reports_keys_no_secret_opens_by_owner_never_by_key(
    session: Session, settings: Settings, alice: str, capsys: pytest.CaptureFixture[str],
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = a_key()
    save(session, settings, alice, "openai", key)
    session.commit()
    lost = settings.model_copy(update={"secret_key": SecretStr(ROTATED)})
    monkeypatch.setattr(cli, "get_settings", lambda: lost)

    cli.main(["rotate-keys"])

    out = capsys.readouterr().out
    assert "0 re-sealed, 0 already current, 1 unreadable" in out
    assert f"{alice} openai" in out and key not in out and key[-4:] not in out


def test_a_generated_local_secret_still_opens_keys_sealed_under_the_old_default(
    session: Session, alice: str, tmp_path: Path
) -> None:
    local = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert local.secret != LEGACY_DEFAULT_SECRET
    key = a_key()
    session.add(ApiKey(user_id=alice, provider="openai", last4=key[-4:], ciphertext=legacy_seal(
        LEGACY_DEFAULT_SECRET, user_id=alice, provider="openai", plaintext=key)))
    session.commit()

    assert load(session, local, alice, "openai") == key
    assert keys.reseal_all(session, settings=local).resealed == 1


# --- no plaintext at rest ----------------------------------------------------------------


def every_value(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return [value for table in SQLModel.metadata.sorted_tables
                for found in conn.execute(sa.select(table)) for value in found]


def test_no_plaintext_in_any_row_or_in_the_database_file(
    session: Session, settings: Settings, engine: Engine, database_url: str, alice: str
) -> None:
    stored = {p: a_key() for p in key_providers()}
    for provider, key in stored.items():
        save(session, settings, alice, provider, key)
    keys.record_check(session, user_id=alice, provider="openai", result=keys.KeyCheck(True, "ok"))
    session.commit()
    assert keys.load_keys(session, settings=settings, user_id=alice) == stored

    needles = [k.encode() for k in stored.values()] + [k[:-4].encode() for k in stored.values()]
    values = every_value(engine)
    assert any(isinstance(v, bytes) for v in values)  # the ciphertexts were read too
    for value in values:
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert not [n for n in needles if n in raw]

    if database_url.startswith("sqlite"):
        engine.dispose()  # checkpoint the WAL; read the main file and any WAL left beside it
        path = Path(make_url(database_url).database or "")
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        content = b"".join(p.read_bytes() for p in files)
        assert b"api_keys" in content and stored["openai"][-4:].encode() in content
        assert not [n for n in needles if n in content]


# --- checking against the provider -------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_check_key_asks_the_provider(wired: Settings, provider: str) -> None:
    assert await keys.check_key(wired, provider, GOOD) == keys.KeyCheck(True, "The key works.")
    wrong = a_key()
    result = await keys.check_key(wired, provider, wrong)
    assert result == keys.KeyCheck(False, ProviderAuthError.user_message)


async def test_check_key_says_when_the_provider_cannot_be_reached(settings: Settings) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = int(sock.getsockname()[1])
    unreachable = settings.model_copy(
        update={"anthropic_base_url": f"http://127.0.0.1:{closed_port}"})
    result = await keys.check_key(unreachable, "anthropic", GOOD)
    assert not result.ok
    assert result.message == f"Could not reach 127.0.0.1:{closed_port}. Is the provider running?"


async def test_check_saved_key_records_the_result(
    session: Session, wired: Settings, alice: str, bob: str
) -> None:
    save(session, wired, alice, "openai", GOOD)
    save(session, wired, alice, "anthropic", a_key())
    ok = await keys.check_saved_key(wired, user_id=alice, provider="openai")
    bad = await keys.check_saved_key(wired, user_id=alice, provider="anthropic")
    assert (ok.test_ok, ok.test_message) == (True, "The key works.")
    assert (bad.test_ok, bad.test_message) == (False, ProviderAuthError.user_message)
    assert ok.tested_at is not None
    session.expire_all()
    assert keys.list_keys(session, user_id=alice) == [ok, bad]
    with pytest.raises(NotFoundError):  # Bob has no key of his own to check
        await keys.check_saved_key(wired, user_id=bob, provider="openai")


async def test_a_stored_key_that_no_longer_opens_is_reported_not_sent(
    session: Session, wired: Settings, wire: ScriptedServer, alice: str
) -> None:
    save(session, wired, alice, "openai", GOOD)
    set_ciphertext(session, alice, "openai", b"\0" * 40)
    info = await keys.check_saved_key(wired, user_id=alice, provider="openai")
    assert (info.test_ok, info.test_message) == (
        False, "The stored key cannot be read any more. Paste it again.")


async def test_no_plaintext_in_the_logs_when_saving_checking_or_decrypting_fails(
    session: Session, wired: Settings, alice: str, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG on every logger, the SDKs' and httpx's included; the scripted server's 401
    quotes the whole key back, as some compatible servers do."""
    caplog.set_level(logging.DEBUG)
    wrong = a_key()
    with pytest.raises(ValidationError):
        save(session, wired, alice, "openai", wrong + " tail")
    save(session, wired, alice, "openai", wrong)
    save(session, wired, alice, "anthropic", GOOD)
    for provider in ("openai", "anthropic"):
        await keys.check_saved_key(wired, user_id=alice, provider=provider)
        set_ciphertext(session, alice, provider, b"tampered" * 8)
        assert load(session, wired, alice, provider) is None
    assert "HTTP Request: GET" in caplog.text  # the SDKs' own lines were captured
    for key in (wrong, GOOD):
        assert key not in caplog.text and key[:-4] not in caplog.text
    for info in keys.list_keys(session, user_id=alice):
        assert wrong not in (info.test_message or "")
