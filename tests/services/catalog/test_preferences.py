"""Model preferences on SQLite and PostgreSQL, and the picker's availability rules."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from chatapp.config import Settings
from chatapp.errors import ValidationError
from chatapp.models import ApiKey, User, UserSettings
from chatapp.providers.catalog import MODELS
from chatapp.services.catalog import preferences
from chatapp.services.catalog.preferences import Preferences

MINI, GPT41 = "openai/gpt-4.1-mini", "openai/gpt-4.1"  # public, signed_in
SONNET, HAIKU = "anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"  # pro, signed_in
FLASH, GEMINI_PRO = "google/gemini-2.5-flash", "google/gemini-2.5-pro"  # public, pro
LOCAL, OLLAMA = "local/smollm2-135m", "ollama/llama3.2"


@pytest.fixture
def server() -> Settings:
    """OpenAI and Anthropic on the server's keys; local model on; Google, Groq, OpenRouter and
    Ollama not configured."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="sqlite://",
        openai_api_key=SecretStr("sk-server"),
        anthropic_api_key=SecretStr("sk-ant-server"),
        local_model_enabled=True,
        default_model=MINI,
    )


def pick(server: Settings, prefs: Preferences = Preferences(), *, anonymous: bool = False,
         tier: str = "free", own: set[str] | None = None) -> dict[str, preferences.PickerModel]:
    access = preferences.Access("anonymous" if anonymous else tier, own or set())  # type: ignore[arg-type]
    return {p.id: p for p in preferences.picker_models(server, prefs, access)}


def reasons(picker: dict[str, preferences.PickerModel], *ids: str) -> list[str]:
    return [picker[i].reason if not picker[i].available else "ok" for i in ids]


def test_anonymous_users_get_public_models_on_configured_providers(server: Settings) -> None:
    p = pick(server, anonymous=True)
    assert reasons(p, MINI, LOCAL, GPT41, HAIKU, SONNET, FLASH, OLLAMA) == [
        "ok", "ok", "Sign in to use", "Sign in to use", "Pro", "Add a Google Gemini key",
        "Not set up on this server",
    ]
    assert p["groq/llama-3.3-70b-versatile"].reason == "Add a Groq key"
    assert (p[MINI].label, p[MINI].provider_label) == ("GPT-4.1 mini", "OpenAI")
    assert [m.id for m in preferences.picker_models(
        server, Preferences(), preferences.Access("anonymous"))] == [
        m.id for m in MODELS]  # nothing pinned: catalog order, nothing hidden


def test_free_users_add_signed_in_models_pro_users_add_pro_models(server: Settings) -> None:
    assert reasons(pick(server, tier="free"), GPT41, HAIKU, SONNET, GEMINI_PRO) == [
        "ok", "ok", "Pro", "Add a Google Gemini key"]
    assert reasons(pick(server, tier="pro"), GPT41, SONNET, GEMINI_PRO) == [
        "ok", "ok", "Add a Google Gemini key"]
    # A "pro" tier on an anonymous user (cannot happen, but must not unlock anything).
    assert reasons(pick(server, anonymous=True, tier="pro"), SONNET) == ["Pro"]


def test_an_own_key_unlocks_its_provider_at_every_access_level(server: Settings) -> None:
    p = pick(server, anonymous=True, own={"google", "anthropic"})
    assert reasons(p, FLASH, GEMINI_PRO, SONNET, HAIKU, GPT41) == [
        "ok", "ok", "ok", "ok", "Sign in to use"]
    openai_word = pick(Settings(_env_file=None, database_url="sqlite://",  # type: ignore[call-arg]
                                local_model_enabled=False))
    assert openai_word[MINI].reason == "Add an OpenAI key"
    assert openai_word[SONNET].reason == "Add an Anthropic key"
    assert openai_word[LOCAL].reason == "Not set up on this server"


def test_disabled_models_are_hidden_and_pinned_ones_come_first(server: Settings) -> None:
    prefs = Preferences(disabled={MINI, OLLAMA}, pinned=[SONNET, LOCAL])
    picker = preferences.picker_models(server, prefs, preferences.Access("free"))
    ids = [p.id for p in picker]
    assert ids[:2] == [SONNET, LOCAL]
    assert MINI not in ids and OLLAMA not in ids
    assert ids[2:] == [m.id for m in MODELS if m.id not in {MINI, OLLAMA, SONNET, LOCAL}]
    assert [p.pinned for p in picker[:3]] == [True, True, False]
    assert not picker[0].available  # pinned, but Pro


def test_preferences_round_trip_and_stay_per_user(
    session: Session, user_id: str, other_user_id: str
) -> None:
    assert preferences.get(session, user_id=user_id) == Preferences()
    preferences.set_enabled(session, user_id=user_id, model_id=OLLAMA, enabled=False)
    preferences.set_pinned(session, user_id=user_id, model_id=FLASH, pinned=True)
    preferences.set_pinned(session, user_id=user_id, model_id=MINI, pinned=True)
    preferences.set_pinned(session, user_id=user_id, model_id=FLASH, pinned=True)  # moves last
    preferences.set_default_model(session, user_id=user_id, model_id=HAIKU)
    preferences.set_stats_for_nerds(session, user_id=user_id, enabled=True)
    session.commit()
    session.expire_all()
    assert preferences.get(session, user_id=user_id) == Preferences(
        HAIKU, {OLLAMA}, [MINI, FLASH], True)
    assert preferences.get(session, user_id=other_user_id) == Preferences()

    preferences.set_enabled(session, user_id=user_id, model_id=OLLAMA, enabled=True)
    preferences.set_pinned(session, user_id=user_id, model_id=MINI, pinned=False)
    prefs = preferences.set_stats_for_nerds(session, user_id=user_id, enabled=False)
    assert prefs == Preferences(HAIKU, set(), [FLASH], False)
    assert preferences.set_default_model(session, user_id=user_id, model_id=None) \
        .default_model is None


def test_default_model_rules(session: Session, user_id: str) -> None:
    with pytest.raises(ValidationError):
        preferences.set_default_model(session, user_id=user_id, model_id="nope/model")
    with pytest.raises(ValidationError):
        preferences.set_enabled(session, user_id=user_id, model_id="nope/model", enabled=False)
    with pytest.raises(ValidationError):
        preferences.set_pinned(session, user_id=user_id, model_id="", pinned=True)
    preferences.set_enabled(session, user_id=user_id, model_id=SONNET, enabled=False)
    with pytest.raises(ValidationError) as refused:
        preferences.set_default_model(session, user_id=user_id, model_id=SONNET)
    assert "Enable Claude Sonnet 4.5" in refused.value.user_message
    # Disabling the current default clears it rather than leaving a hidden default.
    preferences.set_default_model(session, user_id=user_id, model_id=MINI)
    prefs = preferences.set_enabled(session, user_id=user_id, model_id=MINI, enabled=False)
    assert prefs.default_model is None and prefs.disabled == {SONNET, MINI}


def test_the_last_enabled_model_cannot_be_disabled(session: Session, user_id: str) -> None:
    *others, last = [m.id for m in MODELS]
    for model_id in others:
        preferences.set_enabled(session, user_id=user_id, model_id=model_id, enabled=False)
    with pytest.raises(ValidationError) as refused:
        preferences.set_enabled(session, user_id=user_id, model_id=last, enabled=False)
    assert refused.value.user_message == "Keep at least one model enabled."


def test_stale_ids_in_the_row_are_ignored(session: Session, user_id: str) -> None:
    session.add(UserSettings(user_id=user_id, default_model="gone/model",
                             disabled_models="gone/model\n" + MINI,
                             pinned_models="gone/other\n" + FLASH))
    session.commit()
    assert preferences.get(session, user_id=user_id) == Preferences(None, {MINI}, [FLASH], False)


def test_access_for_reads_tier_and_own_keys(session: Session, user_id: str,
                                           other_user_id: str) -> None:
    user = session.get(User, user_id)
    assert user is not None
    user.is_anonymous, user.tier = False, "pro"
    session.add(user)
    session.add(ApiKey(user_id=user_id, provider="google", ciphertext=b"x", last4="abcd"))
    session.add(ApiKey(user_id=other_user_id, provider="groq", ciphertext=b"x", last4="wxyz"))
    session.commit()
    assert preferences.access_for(session, user_id=user_id) == preferences.Access(
        "pro", {"google"})
    assert preferences.access_for(session, user_id=other_user_id) == preferences.Access(
        "anonymous", {"groq"})


def test_picker_for_user_and_the_default_for_a_new_chat(
    session: Session, server: Settings, user_id: str
) -> None:
    picker = preferences.picker_for_user(session, server, user_id=user_id)  # anonymous
    prefs = preferences.set_default_model(session, user_id=user_id, model_id=SONNET)
    assert preferences.default_for_new_chat(server, prefs, picker) == MINI  # Pro: not theirs
    prefs = preferences.set_default_model(session, user_id=user_id, model_id=LOCAL)
    assert preferences.default_for_new_chat(server, prefs, picker) == LOCAL
    prefs = preferences.set_enabled(session, user_id=user_id, model_id=MINI, enabled=False)
    picker = preferences.picker_for_user(session, server, user_id=user_id)
    assert MINI not in {p.id for p in picker}
    prefs = preferences.set_default_model(session, user_id=user_id, model_id=None)
    assert preferences.default_for_new_chat(server, prefs, picker) == LOCAL  # first available


def test_model_settings_lists_every_model_with_the_users_choices(server: Settings) -> None:
    prefs = Preferences(default_model=HAIKU, disabled={OLLAMA}, pinned=[FLASH])
    rows = {r.id: r for r in preferences.model_settings(server, prefs,
                                                        preferences.Access("free"))}
    assert set(rows) == {m.id for m in MODELS}
    assert (rows[OLLAMA].enabled, rows[FLASH].pinned, rows[HAIKU].default) == (False, True, True)
    assert (rows[SONNET].available, rows[SONNET].reason) == (False, "Pro")
