"""Shared column helpers: unguessable ids and UTC timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id() -> str:
    """A 22-character URL-safe random id (128 bits): unguessable, so safe in URLs.

    It never starts with `-`, so a command line cannot read it as an option.
    """
    while (ident := secrets.token_urlsafe(16))[0] == "-":
        continue
    return ident


def utcnow() -> datetime:
    """Aware UTC: SQLModel's datetime columns refuse naive values."""
    return datetime.now(UTC)
