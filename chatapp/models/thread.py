"""Threads: a user's conversations, listed in the sidebar."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow


class Thread(SQLModel, table=True):
    __tablename__ = "threads"
    __table_args__ = (sa.Index("ix_threads_user_updated", "user_id", "updated_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", max_length=32)
    title: str = Field(default="New chat", max_length=200)
    # Whether `title` is still the provisional one cut from the first message.
    title_generated: bool = Field(default=False)
    model_id: str = Field(max_length=200)
    # The leaf of the branch being shown; the visible conversation is its ancestor path.
    leaf_message_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
