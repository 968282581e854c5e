"""Small builders shared by the service tests: users, turns, finished replies, fresh reads."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, func, select

from chatapp.cache import MemoryStopSignals
from chatapp.config import Settings
from chatapp.models import Message, MessageRole, MessageStatus, Thread, User
from chatapp.providers.base import Provider
from chatapp.services.billing import ledger
from chatapp.services.chat import generation, turns
from tests.fakes.scripted_provider import resolver

LOCAL = "local/smollm2-135m"
M = TypeVar("M", bound=SQLModel)


def make_user(session: Session) -> str:
    user = User()
    session.add(user)
    session.commit()
    return user.id


FREE = ledger.Admission(own_key=False)  # what admission gives a free model: nothing reserved


def send(
    session: Session, settings: Settings, user_id: str, content: str,
    thread_id: str | None = None, model_id: str = LOCAL,
    admission: ledger.Admission = FREE,
) -> turns.Turn:
    """start_turn, committed, as the send handler does (after admission)."""
    turn = turns.start_turn(
        session, settings=settings, user_id=user_id, thread_id=thread_id, content=content,
        model_id=model_id, admission=admission,
    )
    session.commit()
    return turn


def chain(session: Session, user_id: str, n: int) -> tuple[Thread, list[str]]:
    """A thread whose visible branch is `n` alternating user/assistant messages "m0"…"""
    thread = Thread(user_id=user_id, title="long", model_id=LOCAL)
    session.add(thread)
    session.flush()
    ids: list[str] = []
    parent: str | None = None
    for i in range(n):
        role = MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT
        msg = Message(thread_id=thread.id, parent_id=parent, role=role, content=f"m{i}")
        session.add(msg)
        ids.append(msg.id)
        parent = msg.id
    thread.leaf_message_id = parent
    session.add(thread)
    session.commit()
    return thread, ids


def settle(
    session: Session, message_id: str, content: str = "ok",
    status: MessageStatus = MessageStatus.COMPLETE,
) -> None:
    """Give a reply its final state, as generation would have."""
    msg = session.get(Message, message_id)
    assert msg is not None
    msg.content, msg.status = content, status
    session.add(msg)
    session.commit()


async def reply_under_way(
    message_id: str, settings: Settings, provider: Provider, model_id: str | None = None,
) -> asyncio.Task[generation.ReplySnapshot]:
    """Start generating a reply in a task and return once its first text was published."""
    got_text = asyncio.Event()

    async def publish(snap: generation.ReplySnapshot) -> None:
        if snap.text:
            got_text.set()

    task = asyncio.create_task(generation.generate_reply(
        message_id, settings=settings, publish=publish, stop_signals=MemoryStopSignals(),
        resolve=resolver(provider, model_id),
    ))
    await asyncio.wait_for(got_text.wait(), 5)
    return task


def fresh(engine: Engine, model: type[M], ident: str) -> M | None:
    """The row as another connection sees it now (not the test session's cached copy)."""
    with Session(engine) as other:
        return other.get(model, ident)


def count(session: Session, model: type[SQLModel]) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, read on a new connection: shows whether anything was written."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }
