"""Messages, stored as a tree (each has a parent) so edits and regenerations branch."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow


class MessageRole(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (MessageStatus.PENDING, MessageStatus.STREAMING)


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
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
