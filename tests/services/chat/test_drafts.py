"""Drafts on SQLite and PostgreSQL: kept per thread and for a new chat, cleared on send,
never anyone else's."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from chatapp.config import Settings
from chatapp.errors import NotFoundError, ValidationError
from chatapp.models.message import MAX_MESSAGE_CHARS
from chatapp.services.chat import drafts
from tests.services.helpers import send, settle


def test_drafts_are_kept_per_thread_and_cleared_when_sent(
    session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "hello")
    settle(session, turn.assistant_message_id)
    drafts.save_draft(session, user_id=user_id, slot=drafts.NEW_CHAT, text="a new idea")
    drafts.save_draft(session, user_id=user_id, slot=turn.thread_id, text="half a reply\n- ")
    session.commit()

    assert drafts.get_draft(session, user_id=user_id, slot=drafts.NEW_CHAT) == "a new idea"
    assert drafts.get_draft(session, user_id=user_id, slot=turn.thread_id) == "half a reply\n- "

    send(session, settings, user_id, "half a reply", thread_id=turn.thread_id)
    assert drafts.get_draft(session, user_id=user_id, slot=turn.thread_id) == ""
    assert drafts.get_draft(session, user_id=user_id, slot=drafts.NEW_CHAT) == "a new idea"
    send(session, settings, user_id, "a new idea")
    assert drafts.get_draft(session, user_id=user_id, slot=drafts.NEW_CHAT) == ""

    drafts.save_draft(session, user_id=user_id, slot=drafts.NEW_CHAT, text="again")
    drafts.save_draft(session, user_id=user_id, slot=drafts.NEW_CHAT, text="   ")
    assert drafts.get_draft(session, user_id=user_id, slot=drafts.NEW_CHAT) == ""


def test_nobody_reads_or_writes_another_users_drafts(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    turn = send(session, settings, user_id, "mine")
    drafts.save_draft(session, user_id=user_id, slot=turn.thread_id, text="private draft")
    session.commit()

    assert drafts.get_draft(session, user_id=other_user_id, slot=turn.thread_id) == ""
    with pytest.raises(NotFoundError):
        drafts.save_draft(session, user_id=other_user_id, slot=turn.thread_id, text="mine now")
    with pytest.raises(ValidationError):
        drafts.save_draft(session, user_id=user_id, slot=drafts.NEW_CHAT,
                          text="x" * (MAX_MESSAGE_CHARS + 1))
    assert drafts.get_draft(session, user_id=user_id, slot=turn.thread_id) == "private draft"
