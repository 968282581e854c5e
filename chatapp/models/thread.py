"""Threads: a user's conversations, listed in the sidebar; and the drafts typed into them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatapp.models.base import new_id, utcnow


class Visibility(enum.StrEnum):
    VISIBLE = "visible"
    ARCHIVED = "archived"  # out of the list, in the Archived view; restorable


class Thread(SQLModel, table=True):
    __tablename__ = "threads"
    __table_args__ = (
        sa.Index("ix_threads_user_updated", "user_id", "updated_at"),
        # The sidebar's query: one user's visible (or archived) threads, pinned first, newest.
        sa.Index("ix_threads_user_list", "user_id", "visibility", "pinned", "updated_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", max_length=32)
    title: str = Field(default="New chat", max_length=200)
    # Whether `title` is final (generated, or set by the user): no automatic title replaces it.
    title_generated: bool = Field(default=False)
    title_by_user: bool = Field(default=False)  # the user renamed it
    model_id: str = Field(max_length=200)
    # The leaf of the branch being shown; the visible conversation is its ancestor path.
    leaf_message_id: str | None = Field(default=None, max_length=32)
    pinned: bool = Field(default=False)
    visibility: str = Field(default=Visibility.VISIBLE, max_length=16)
    # Set when the user deletes it: from then on it is shown nowhere and can only be undone,
    # until the maintenance sweep purges it (threads.PURGE_AFTER).
    deleted_at: datetime | None = None
    # A fork's origin: the message it was branched off at, and that message's thread. No foreign
    # keys: the original may be deleted later, and the fork keeps its own copies.
    forked_from_thread_id: str | None = Field(default=None, max_length=32)
    forked_from_message_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)  # last activity: what the list sorts by


class Draft(SQLModel, table=True):
    """What the user typed and has not sent yet, per thread ("" for a new chat)."""

    __tablename__ = "drafts"

    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True,
                         max_length=32)
    # A thread id, or "" for the new-chat composer. No foreign key ("" is no thread): deleting
    # a thread deletes its draft (threads.purge).
    slot: str = Field(primary_key=True, max_length=32)
    text: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow)
