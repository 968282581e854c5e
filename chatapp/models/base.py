"""Shared column helpers: unguessable ids and UTC timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id() -> str:
    """A 22-character URL-safe random id (128 bits): unguessable, so safe in URLs."""
    return secrets.token_urlsafe(16)


def utcnow() -> datetime:
    """Aware UTC: SQLModel's datetime columns refuse naive values."""
    return datetime.now(UTC)
