"""The database layer: any text is storable (PostgreSQL refuses U+0000), outages are retried."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chatapp import db
from chatapp.config import Settings
from chatapp.models import Message, MessageStatus, Thread, User
from chatapp.services.chat import generation, threads
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import fresh, make_user, send

NUL = "\x00"


async def test_a_nul_character_from_the_user_or_the_model_is_stored_and_the_thread_lives_on(
    engine: Engine, session: Session, settings: Settings
) -> None:
    user_id = make_user(session)
    turn = send(session, settings, user_id, f"paste{NUL}d text")
    provider = ScriptedProvider.text("bin", f"ary{NUL}", "data")

    snap = await generation.generate_reply(turn.assistant_message_id, settings=settings,
                                           resolve=resolver(provider))

    assert snap.status == MessageStatus.COMPLETE
    reply = fresh(engine, Message, turn.assistant_message_id)
    question = fresh(engine, Message, turn.user_message_id or "")
    assert reply is not None and question is not None
    assert reply.status == MessageStatus.COMPLETE
    assert reply.content == "binary\ufffddata"
    assert question.content == "paste\ufffdd text"
    thread = fresh(engine, Thread, turn.thread_id)
    assert thread is not None and NUL not in thread.title
    # The thread still takes messages and lists normally.
    again = send(session, settings, user_id, "and now?", thread_id=turn.thread_id)
    assert fresh(engine, Message, again.assistant_message_id) is not None
    assert len(threads.list_threads(session, user_id=user_id)) == 1


def test_every_statement_stores_text_without_nul_bulk_updates_and_lookups_too(
    engine: Engine, session: Session
) -> None:
    user = User(name=f"Ada{NUL}", is_anonymous=False)
    session.add(user)
    session.commit()
    session.exec(sa.update(User).where(User.id == user.id).values(email=f"a{NUL}@x.org"))  # type: ignore[call-overload]
    session.commit()

    stored = fresh(engine, User, user.id)
    assert stored is not None
    assert (stored.name, stored.email) == ("Ada\ufffd", "a\ufffd@x.org")
    # A lookup by the same text finds it: parameters are cleaned the same way everywhere.
    found = session.exec(select(User).where(User.email == f"a{NUL}@x.org")).one()
    assert found.id == user.id


async def test_run_patiently_retries_while_the_database_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def flaky(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls < 3:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
        return "written"

    monkeypatch.setattr(db, "run", flaky)
    assert await db.run_patiently(lambda s: None, patience=5, first_delay=0.01) == "written"
    assert calls == 3

    calls = -100  # never recovers within the patience: the last error is raised
    with pytest.raises(sa.exc.OperationalError):
        await db.run_patiently(lambda s: None, patience=0.05, first_delay=0.01)

    async def refused(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate"))

    monkeypatch.setattr(db, "run", refused)
    with pytest.raises(sa.exc.IntegrityError):  # a refused statement is not retried
        await db.run_patiently(lambda s: None, patience=5, first_delay=0.01)
