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


def storable(text: str) -> str:
    """Text every database can store: PostgreSQL refuses U+0000 in text, so it becomes U+FFFD
    (the replacement character), as a model or a user may well send one."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


# The full-text search index (tables, shadow tables, triggers, indexes) is each database's own
# engine, made by migration 0006 and not described by the models: its names start with this.
SEARCH_INDEX_PREFIX = "search_"


def in_models(name: str | None) -> bool:
    """Whether a schema object is one the models describe (alembic compares only those)."""
    return not (name or "").startswith(SEARCH_INDEX_PREFIX)
