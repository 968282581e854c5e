"""Users (anonymous or signed in) and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    is_anonymous: bool = Field(default=True)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True)
    avatar_url: str | None = Field(default=None, max_length=1000)
    # Signed-in users are "free" or "pro" (set by the operator: python -m chatapp.cli set-tier).
    tier: str = Field(default="free", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Identity(SQLModel, table=True):
    """A sign-in method linked to a user: one account at one provider."""

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("provider", "subject", name="uq_identity_subject"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, ondelete="CASCADE", max_length=32)
    provider: str = Field(max_length=32)  # github | google | oidc
    subject: str = Field(max_length=255)  # the provider's stable user id
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """A browser session. The browser holds the raw token; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, ondelete="CASCADE", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    user_agent: str | None = Field(default=None, max_length=400)
