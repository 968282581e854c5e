"""Beginning a turn: end what a crash left behind, admit, store; or give the reservation back.

The one call behind Send and Regenerate, so the order (admission before anything is stored, a
refund on every path that stores nothing) lives in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlmodel import Session

from chatapp import db
from chatapp.config import Settings
from chatapp.services import billing, chat, leases


async def begin_turn(
    settings: Settings, *, user_id: str, thread_id: str | None, text: str, model_id: str,
    client_ip: str | None,
) -> chat.Turn:
    """Store the user's message and a pending reply, paid for (BudgetExceededError when the
    allowance cannot cover it; the reservation is given back if anything after it fails)."""
    await leases.end_orphans(settings, user_id=user_id)  # a crashed reply must not block
    return await _admitted(
        settings, user_id=user_id, model_id=model_id, thread_id=thread_id, text=text,
        client_ip=client_ip, retry_of=None,
        store=lambda admission: lambda s: chat.start_turn(
            s, settings=settings, user_id=user_id, thread_id=thread_id, content=text,
            model_id=model_id, admission=admission),
    )


async def begin_retry(
    settings: Settings, *, user_id: str, message_id: str, model_id: str, client_ip: str | None,
) -> chat.Turn:
    """A new reply to the same user message, as a sibling branch of `message_id`."""
    await leases.end_orphans(settings, user_id=user_id)
    return await _admitted(
        settings, user_id=user_id, model_id=model_id, thread_id=None, text="",
        client_ip=client_ip, retry_of=message_id,
        store=lambda admission: lambda s: chat.retry_turn(
            s, settings=settings, user_id=user_id, message_id=message_id, model_id=model_id,
            admission=admission),
    )


async def _admitted(settings: Settings, *, user_id: str, model_id: str, thread_id: str | None,
                    text: str, client_ip: str | None, retry_of: str | None,
                    store: Callable[[billing.Admission], Callable[[Session], chat.Turn]],
                    ) -> chat.Turn:
    admission = await billing.admit_turn(
        settings, user_id=user_id, model_id=model_id, thread_id=thread_id, text=text,
        client_ip=client_ip, retry_of=retry_of,
    )
    try:
        return await db.run(store(admission))
    except BaseException:
        # Whatever failed (a refusal, a database error, a cancelled task), nothing was stored.
        await asyncio.shield(billing.release(settings, admission))
        raise
