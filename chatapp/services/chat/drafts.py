"""Drafts: what the user typed into a composer and has not sent, kept on the server per thread
(and one for the new-chat composer), so a reload, another tab or another device finds it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from chatapp.errors import ValidationError
from chatapp.models import Draft
from chatapp.models.base import utcnow
from chatapp.models.message import MAX_MESSAGE_CHARS
from chatapp.services.chat import threads

NEW_CHAT = ""  # the slot of the new-chat composer


def get_draft(session: Session, *, user_id: str, slot: str) -> str:
    """The user's draft for a thread of theirs (or NEW_CHAT); "" when there is none. Keyed by
    the user, so no id typed in can reach anyone else's."""
    draft = session.get(Draft, (user_id, slot))
    return draft.text if draft is not None else ""


def save_draft(session: Session, *, user_id: str, slot: str, text: str) -> None:
    """Keep `text` as the draft of `slot` (a thread of the user's, or NEW_CHAT); an empty text
    removes it."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError("draft too long",
                              user_message=f"Messages are limited to {MAX_MESSAGE_CHARS:,} "
                              "characters.")
    if slot != NEW_CHAT:
        threads.get_thread(session, user_id=user_id, thread_id=slot)  # NotFoundError if not
    if not text.strip():
        clear_draft(session, user_id=user_id, slot=slot)
        return
    draft = session.get(Draft, (user_id, slot)) or Draft(user_id=user_id, slot=slot)
    draft.text, draft.updated_at = text, utcnow()
    session.add(draft)


def clear_draft(session: Session, *, user_id: str, slot: str) -> None:
    session.exec(sa.delete(Draft).where(col(Draft.user_id) == user_id,  # type: ignore[call-overload]
                                        col(Draft.slot) == slot))


__all__ = ["NEW_CHAT", "clear_draft", "get_draft", "save_draft"]
