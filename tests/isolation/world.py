"""Two users' data for the isolation suite, and row snapshots that show whether it changed."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from chatapp.config import Settings
from chatapp.models import (
    AuthSession,
    Draft,
    Identity,
    Message,
    MessageStatus,
    Thread,
    UsageRecord,
    User,
    UserSettings,
)
from chatapp.models.base import utcnow
from chatapp.services.billing import ledger, usage
from chatapp.services.chat import turns
from chatapp.services.identity import tokens


@dataclasses.dataclass
class Person:
    """A user, the token in their browser's cookie, and every id they own."""

    user_id: str
    token: str
    session_id: str  # the session row behind `token`
    other_session_id: str  # a second device's session
    other_token: str
    thread_id: str = ""
    user_message_id: str = ""  # the first question
    finished_reply_id: str = ""
    followup_id: str = ""  # the second question
    failed_reply_id: str = ""
    streaming_thread_id: str = ""
    streaming_reply_id: str = ""
    usage_id: str = ""  # a usage record of the first thread's reply
    texts: list[str] = dataclasses.field(default_factory=list)  # content only they may see

    def ids(self) -> dict[str, str]:
        """Every id of this person's, by what it is."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if isinstance(v, str) and v and k not in ("token", "other_token")}

    def secrets(self) -> list[str]:
        """Strings that must never reach anyone else: ids, content, tokens and their hashes."""
        raw = [self.token, self.other_token]
        return [*self.ids().values(), *self.texts, *raw,
                *(tokens.hash_token(t) for t in raw)]


DISABLED = "ollama/llama3.2"  # each person's preferences hide this model


def make_person(engine: Engine, settings: Settings, name: str) -> Person:
    """An anonymous user with two live sessions, a finished and a failed reply in one thread,
    a reply still streaming in another (as if a generation ran in another worker), a usage
    record, and model preferences."""
    tag = f"{name}-{secrets.token_hex(4)}"
    model = settings.default_model
    with Session(engine, expire_on_commit=False) as s:
        first = tokens.create_anonymous_session(s, user_agent="Firefox on Linux")
        second = tokens.create_session(s, user_id=first.user_id,
                                         lifetime=timedelta(days=30), user_agent="iPhone")
        s.commit()
        rows = {r.token_hash: r.id for r in s.exec(
            select(AuthSession).where(AuthSession.user_id == first.user_id))}
        p = Person(first.user_id, first.token, rows[tokens.hash_token(first.token)],
                   rows[tokens.hash_token(second.token)], second.token)
        p.texts = [f"Question about {tag} secrets", f"Answer for {tag} only",
                   f"Follow-up of {tag}", f"Partial reply of {tag}", f"Still writing for {tag}",
                   f"Streaming question of {tag}", f"Unsent draft of {tag}"]

        def turn(content: str, thread_id: str | None) -> turns.Turn:
            t = turns.start_turn(s, settings=settings, user_id=p.user_id, thread_id=thread_id,
                                content=content, model_id=model,
                                admission=ledger.Admission(own_key=False))
            s.commit()
            return t

        def finish(message_id: str, content: str, status: MessageStatus,
                   error: str | None = None) -> None:
            msg = s.get(Message, message_id)
            assert msg is not None
            msg.content, msg.status, msg.error = content, status, error
            if status == MessageStatus.STREAMING:  # a live writer elsewhere holds its lease
                msg.lease_owner = "another-worker"
                msg.lease_expires_at = utcnow() + timedelta(hours=1)
            s.add(msg)
            s.commit()

        t1 = turn(p.texts[0], None)
        finish(t1.assistant_message_id, p.texts[1], MessageStatus.COMPLETE)
        t2 = turn(p.texts[2], t1.thread_id)
        finish(t2.assistant_message_id, p.texts[3], MessageStatus.ERROR,
               "The provider is unavailable right now. Retry in a moment.")
        t3 = turn(p.texts[5], None)
        finish(t3.assistant_message_id, p.texts[4], MessageStatus.STREAMING)
        record = usage.record(s, user_id=p.user_id, thread_id=t1.thread_id,
                              message_id=t1.assistant_message_id, provider="openai",
                              model=model, input_tokens=12, output_tokens=34,
                              cost_microusd=56, duration_ms=700)
        s.add(UserSettings(user_id=p.user_id, default_model=model, disabled_models=DISABLED,
                           pinned_models=model, stats_for_nerds=True))
        s.add(Draft(user_id=p.user_id, slot=t1.thread_id, text=p.texts[6]))
        s.commit()
        p.usage_id = record.id
    p.thread_id, p.user_message_id = t1.thread_id, t1.user_message_id or ""
    p.finished_reply_id, p.followup_id = t1.assistant_message_id, t2.user_message_id or ""
    p.failed_reply_id = t2.assistant_message_id
    p.streaming_thread_id, p.streaming_reply_id = t3.thread_id, t3.assistant_message_id
    return p


def owned_rows(engine: Engine, user_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row the user owns (user, identities, sessions, threads,
    messages, usage, settings, drafts), read on a new connection: equal snapshots mean nothing of
    theirs changed."""
    threads = sa.select(col(Thread.id)).where(col(Thread.user_id) == user_id)
    queries = {
        "users": sa.select(User).where(col(User.id) == user_id),
        "identities": sa.select(Identity).where(col(Identity.user_id) == user_id),
        "auth_sessions": sa.select(AuthSession).where(col(AuthSession.user_id) == user_id),
        "threads": sa.select(Thread).where(col(Thread.user_id) == user_id),
        "messages": sa.select(Message).where(col(Message.thread_id).in_(threads)),
        "usage_records": sa.select(UsageRecord).where(col(UsageRecord.user_id) == user_id),
        "user_settings": sa.select(UserSettings).where(col(UserSettings.user_id) == user_id),
        "drafts": sa.select(Draft).where(col(Draft.user_id) == user_id),
    }
    with engine.connect() as conn:
        return {name: sorted(tuple(row) for row in conn.execute(q))
                for name, q in queries.items()}


def live_session_ids(engine: Engine, user_id: str) -> set[str]:
    with Session(engine) as s:
        rows = s.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all()
        return {r.id for r in rows if r.revoked_at is None}


def all_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("users", "identities", "auth_sessions", "threads", "messages",
                          "drafts")}
