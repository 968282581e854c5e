"""The composer's meter: what is left of the allowance for the model picked."""

from __future__ import annotations

import reflex as rx

from chatapp.config import get_settings
from chatapp.services.billing import ledger
from chatapp.state.user import client_ip


class MeterState(rx.State):
    meter: str = ""  # "62% left · full in 5 h"; empty for a model no allowance pays for
    _model_id: str = ""


async def refresh(state: MeterState, *, user_id: str, model_id: str) -> None:
    """The meter for `model_id` (the one picked in the composer)."""
    state._model_id = model_id
    await update(state, user_id=user_id)


async def update(state: MeterState, *, user_id: str) -> None:
    """The meter again, for the same model (after a reply spent some of the allowance)."""
    state.meter = await ledger.meter_label(get_settings(), user_id=user_id,
                                           model_id=state._model_id, client_ip=client_ip(state))
