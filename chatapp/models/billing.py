"""Money and keys: users' own API keys (encrypted), usage records, budget buckets, preferences."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow


class ApiKey(SQLModel, table=True):
    """A user's own provider key, AES-256-GCM encrypted; only the last four characters are kept
    in clear, to show which key it is."""

    __tablename__ = "api_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "provider", name="uq_api_key_provider"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, ondelete="CASCADE", max_length=32)
    provider: str = Field(max_length=32)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)  # nonce (12 bytes) + sealed key + tag
    last4: str = Field(max_length=4)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    tested_at: datetime | None = None
    test_ok: bool | None = None
    test_message: str | None = Field(default=None, max_length=300)


class UsageRecord(SQLModel, table=True):
    """One provider request: what it used, what it cost, how it went."""

    __tablename__ = "usage_records"
    __table_args__ = (sa.Index("ix_usage_user_created", "user_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", max_length=32)
    thread_id: str | None = Field(default=None, max_length=32)
    message_id: str | None = Field(default=None, max_length=32)
    provider: str = Field(max_length=64)
    model: str = Field(max_length=200)
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_microusd: int = 0  # millionths of a US dollar: exact sums, no float drift
    own_key: bool = False
    first_token_ms: int | None = None
    duration_ms: int | None = None
    outcome: str = Field(max_length=16)  # complete | error | cancelled
    created_at: datetime = Field(default_factory=utcnow)


class BudgetBucket(SQLModel, table=True):
    """Spend in a rolling allowance (database path; Redis holds the same when configured).

    `spent_microusd` drains continuously at limit/window per second, so a user who spent half
    is full again after half a window.
    """

    __tablename__ = "budget_buckets"

    key: str = Field(primary_key=True, max_length=120)  # "user:<id>" or "ip:<address>"
    spent_microusd: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class UserSettings(SQLModel, table=True):
    __tablename__ = "user_settings"

    user_id: str = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE",
                         max_length=32)
    default_model: str | None = Field(default=None, max_length=200)
    disabled_models: str = Field(default="", sa_type=sa.Text)  # newline-separated model ids
    pinned_models: str = Field(default="", sa_type=sa.Text)
    stats_for_nerds: bool = False
