"""A user's model preferences (enabled, pinned, default, stats for nerds) and the picker."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from chatapp.config import Settings
from chatapp.errors import NotFoundError, ValidationError
from chatapp.models import User, UserSettings
from chatapp.providers.catalog import PROVIDERS, ModelInfo, all_models, get_model
from chatapp.services.catalog import keys, serving
from chatapp.services.identity import tiers


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the user chose. `default_model` is None when unset (the server's default applies)."""

    default_model: str | None = None
    disabled: set[str] = field(default_factory=set)
    pinned: list[str] = field(default_factory=list)
    stats_for_nerds: bool = False


@dataclass(frozen=True, slots=True)
class PickerModel:
    """One entry of the composer's model picker; `reason` says why it is not available."""

    id: str
    label: str
    provider_label: str
    pinned: bool
    available: bool
    reason: str  # "" when available


@dataclass(frozen=True, slots=True)
class ModelSetting:
    """One row of the models settings page: every catalog model, disabled ones too."""

    id: str
    label: str
    provider_label: str
    enabled: bool
    pinned: bool
    default: bool
    available: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Access:
    """Who is asking: what decides availability besides the server's configuration."""

    tier: tiers.Tier
    own_key_providers: set[str] = field(default_factory=set)


# --- reading and writing ---------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def get(session: Session, *, user_id: str) -> Preferences:
    """The user's preferences; ids no longer in the catalog are left out."""
    row = session.get(UserSettings, user_id)
    if row is None:
        return Preferences()
    disabled = {m for m in _split(row.disabled_models) if get_model(m)}
    pinned = [m for m in _split(row.pinned_models) if get_model(m)]
    default = row.default_model
    if default is not None and (get_model(default) is None or default in disabled):
        default = None
    return Preferences(default, disabled, pinned, row.stats_for_nerds)


def _row(session: Session, user_id: str) -> UserSettings:
    row = session.get(UserSettings, user_id)
    if row is None:
        if session.get(User, user_id) is None:
            raise NotFoundError("user not found")
        row = UserSettings(user_id=user_id)
    return row


def _known(model_id: str) -> ModelInfo:
    model = get_model(model_id)
    if model is None:
        raise ValidationError(f"unknown model {model_id!r}",
                              user_message=f"Unknown model “{model_id}”.")
    return model


def _save(session: Session, row: UserSettings) -> Preferences:
    session.add(row)
    session.flush()
    return get(session, user_id=row.user_id)


def set_enabled(session: Session, *, user_id: str, model_id: str, enabled: bool) -> Preferences:
    """Show or hide a model in the picker. Disabling the default model clears the default;
    disabling the last enabled model is refused."""
    _known(model_id)
    row = _row(session, user_id)
    disabled = [m for m in _split(row.disabled_models) if m != model_id and get_model(m)]
    if not enabled:
        if len(disabled) + 1 >= len(all_models()):
            raise ValidationError("last model", user_message="Keep at least one model enabled.")
        disabled.append(model_id)
        if row.default_model == model_id:
            row.default_model = None
    row.disabled_models = "\n".join(disabled)
    return _save(session, row)


def set_pinned(session: Session, *, user_id: str, model_id: str, pinned: bool) -> Preferences:
    """Pin a model to the top of the picker (in the order pinned), or unpin it."""
    _known(model_id)
    row = _row(session, user_id)
    current = [m for m in _split(row.pinned_models) if m != model_id]
    if pinned:
        current.append(model_id)
    row.pinned_models = "\n".join(current)
    return _save(session, row)


def set_default_model(session: Session, *, user_id: str, model_id: str | None) -> Preferences:
    """The model new chats start with; None goes back to the server's default."""
    row = _row(session, user_id)
    if model_id is not None:
        model = _known(model_id)
        if model_id in _split(row.disabled_models):
            raise ValidationError("default is disabled",
                                  user_message=f"Enable {model.label} before making it the "
                                  "default.")
    row.default_model = model_id
    return _save(session, row)


def set_stats_for_nerds(session: Session, *, user_id: str, enabled: bool) -> Preferences:
    """Show token counts, cost and timings under each assistant reply, or not."""
    row = _row(session, user_id)
    row.stats_for_nerds = enabled
    return _save(session, row)


def access_for(session: Session, *, user_id: str) -> Access:
    """The user's tier and the providers they stored their own key for (a visitor who is not
    a user yet: anonymous, no keys)."""
    return Access(tiers.tier_of(session.get(User, user_id)),
                  keys.own_key_providers(session, user_id=user_id))


# --- availability ----------------------------------------------------------------------


def availability(settings: Settings, model: ModelInfo, access: Access) -> tuple[bool, str]:
    """(available, reason): the user's own key for the provider always works; the server's
    key works when configured and the user's tier reaches the model's access level."""
    reason = serving.not_served(settings, model, access.own_key_providers)
    if reason:
        return False, reason
    if PROVIDERS[model.provider].needs_key and model.provider in access.own_key_providers:
        return True, ""  # their own key: no tier limits it
    reason = tiers.access_reason(access.tier, model.access)
    return not reason, reason


def picker_models(settings: Settings, prefs: Preferences, access: Access) -> list[PickerModel]:
    """Catalog models the user has not disabled: pinned first (in pin order), then in
    catalog order; unavailable ones stay, with the reason."""
    order = {m: i for i, m in enumerate(prefs.pinned)}
    shown = [m for m in all_models() if m.id not in prefs.disabled]
    shown.sort(key=lambda m: order.get(m.id, len(order)))  # stable: catalog order otherwise
    out = []
    for m in shown:
        ok, reason = availability(settings, m, access)
        out.append(PickerModel(m.id, m.label, PROVIDERS[m.provider].label, m.id in order, ok,
                               reason))
    return out


def model_settings(settings: Settings, prefs: Preferences, access: Access) -> list[ModelSetting]:
    """Every catalog model, in catalog order, with the user's choices and its availability."""
    out = []
    for m in all_models():
        ok, reason = availability(settings, m, access)
        out.append(ModelSetting(m.id, m.label, PROVIDERS[m.provider].label,
                                m.id not in prefs.disabled, m.id in prefs.pinned,
                                m.id == prefs.default_model, ok, reason))
    return out


def picker_for_user(session: Session, settings: Settings, *, user_id: str) -> list[PickerModel]:
    """picker_models for a stored user: their preferences, tier and own keys."""
    return picker_models(settings, get(session, user_id=user_id),
                         access_for(session, user_id=user_id))


def default_for_new_chat(settings: Settings, prefs: Preferences,
                         picker: list[PickerModel]) -> str:
    """The user's default when it is available to them, else the first available of the
    server's default and the picker's entries, else the server's default regardless."""
    available = [p.id for p in picker if p.available]
    server_default = serving.default_model_id(settings)
    for candidate in (prefs.default_model, server_default, *available):
        if candidate is not None and candidate in available:
            return candidate
    return server_default


def settings_page(session: Session, settings: Settings, *, user_id: str
                  ) -> tuple[list[ModelSetting], bool]:
    """What the models settings page shows the user: every model with their choices and its
    availability, and whether stats for nerds are on."""
    prefs = get(session, user_id=user_id)
    return model_settings(settings, prefs, access_for(session, user_id=user_id)), \
        prefs.stats_for_nerds


def for_composer(session: Session, settings: Settings, *, user_id: str
                 ) -> tuple[Preferences, list[PickerModel]]:
    """What a chat page needs of the user's preferences: them, and their model picker."""
    prefs = get(session, user_id=user_id)
    return prefs, picker_models(settings, prefs, access_for(session, user_id=user_id))
