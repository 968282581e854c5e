"""Messages, stored as a tree (each has a parent) so edits and regenerations branch."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow

MAX_MESSAGE_CHARS = 100_000  # what a user may send (or keep as a draft) in one message


class MessageRole(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"  # the user pressed Stop
    INTERRUPTED = "interrupted"  # its writer died (crash, restart): ended when its lease ran out

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


# The replies still being written: one home for the rule (the partial index below repeats it
# in SQL, as does its migration).
ACTIVE_STATUSES: tuple[MessageStatus, ...] = (MessageStatus.PENDING, MessageStatus.STREAMING)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_thread_created", "thread_id", "created_at"),
        sa.Index("ix_messages_parent", "parent_id"),
        sa.Index("ix_messages_status", "status"),
        # At most one reply being written per thread, even when two sends race.
        sa.Index(
            "uq_messages_one_active_per_thread", "thread_id", unique=True,
            sqlite_where=sa.text("status IN ('pending', 'streaming')"),
            postgresql_where=sa.text("status IN ('pending', 'streaming')"),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", max_length=32)
    parent_id: str | None = Field(
        default=None, foreign_key="messages.id", ondelete="CASCADE", max_length=32
    )
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=sa.Text)
    reasoning: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default=MessageStatus.COMPLETE, max_length=16)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Error class name (e.g. ProviderRateLimitError): lets the UI decide on Retry.
    error_code: str | None = Field(default=None, max_length=64)
    provider: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=200)
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    first_token_ms: int | None = None
    duration_ms: int | None = None
    # While a reply is being written: the process writing it renews its lease at every
    # checkpoint; a reply whose lease ran out is ended as interrupted by whoever meets it.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = None
    # How the reply is paid for (billing.Admission as JSON) until it is settled, exactly once,
    # by whoever ends it: its writer, or whoever finds it orphaned.
    admission: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
