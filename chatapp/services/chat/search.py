"""Full-text search over one user's thread titles and messages, on each database's own engine
(SQLite FTS5, PostgreSQL tsvector with GIN indexes; made and kept in step by migration 0006):
ranked, grouped by thread, with the matching words marked in a snippet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

# Where a snippet's matching words start and end: private-use characters, never markup, so a
# snippet is plain text until the UI draws the marked parts.
MARK, UNMARK = "\ue000", "\ue001"
MAX_TERMS = 8
MESSAGE_CANDIDATES = 200  # ranked message hits considered before grouping by thread
# A word found in most of a user's messages is ranked among the newest this many matches,
# not all of them: the cost of a search stays bounded however large the history grows.
POOL = 2000


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    marked: bool = False


@dataclass(frozen=True, slots=True)
class MessageHit:
    message_id: str
    role: str
    snippet: list[Segment]


@dataclass(slots=True)
class ThreadHit:
    thread_id: str
    title: list[Segment]
    updated_at: datetime
    archived: bool
    hits: list[MessageHit] = field(default_factory=list)


def terms(query: str) -> list[str]:
    """The words searched for: letters and digits only, so no query syntax reaches the
    engine from what the user typed."""
    return re.findall(r"\w+", query.lower().replace("_", " "))[:MAX_TERMS]


def search(session: Session, *, user_id: str, query: str, include_archived: bool = False,
           max_threads: int = 20, hits_per_thread: int = 3) -> list[ThreadHit]:
    """The user's threads matching every word of `query` (each a prefix, so results come as
    they type): threads whose title matches first, then by their best message's rank; in each,
    its best `hits_per_thread` messages. Deleted threads never; archived ones on request."""
    words = terms(query)
    if not words:
        return []
    engine = _SQLite if session.get_bind().dialect.name == "sqlite" else _Postgres
    params = {"user_id": user_id, "mark": MARK, "unmark": UNMARK, "pool": POOL,
              "query": engine.query(words, user_id, "body"),
              "titles": engine.query(words, user_id, "title")}
    visible = "" if include_archived else "AND t.visibility = 'visible'"
    found: dict[str, ThreadHit] = {}
    for row in session.execute(_typed(engine.TITLES.format(visible=visible)),
                               {**params, "limit": max_threads}):
        found[row.id] = ThreadHit(row.id, segments(row.title), row.updated_at,
                                  row.visibility == "archived")
    ranked = session.execute(_typed(engine.MESSAGES.format(visible=visible)),
                             {**params, "limit": MESSAGE_CANDIDATES}).all()
    chosen: list[Any] = []
    per_thread: dict[str, int] = {}
    for row in ranked:
        if row.thread_id not in found:
            if len(found) >= max_threads:
                continue
            found[row.thread_id] = ThreadHit(row.thread_id, segments(row.title), row.updated_at,
                                             row.visibility == "archived")
        if per_thread.get(row.thread_id, 0) < hits_per_thread:
            per_thread[row.thread_id] = per_thread.get(row.thread_id, 0) + 1
            chosen.append(row)
    snippets = _snippets(session, engine.SNIPPETS, params["query"], [r.key for r in chosen])
    for row in chosen:
        found[row.thread_id].hits.append(
            MessageHit(row.message_id, row.role, segments(snippets.get(row.key, ""))))
    return list(found.values())


def owner_token(user_id: str) -> str:
    """The user as one index token (migration 0006 writes the same)."""
    return "u" + user_id.replace("-", "x0").replace("_", "x1")


def _snippets(session: Session, sql: str, query: str, keys: list[Any]) -> dict[Any, str]:
    """Each chosen message's snippet, its words marked, by its key (one query)."""
    if not keys:
        return {}
    rows = session.execute(sa.text(sql).bindparams(sa.bindparam("keys", expanding=True)),
                           {"query": query, "keys": keys, "mark": MARK, "unmark": UNMARK})
    return {r[0]: r[1] for r in rows}


def _typed(sql: str) -> Any:
    return sa.text(sql).columns(updated_at=UTCDateTime())  # SQLite returns text otherwise


def segments(text: str) -> list[Segment]:
    """A snippet cut into plain and marked parts."""
    out: list[Segment] = []
    for i, piece in enumerate(re.split(f"[{MARK}{UNMARK}]", text)):
        if piece:
            out.append(Segment(" ".join(piece.split()) if "\n" in piece else piece, i % 2 == 1))
    return out


class _SQLite:
    """FTS5: bm25 ranks (lower is better) among the newest POOL matches of the owner's;
    highlight() and snippet() mark the words."""

    TITLES = """
        WITH found AS (
          SELECT thread_id, highlight(search_threads, 0, :mark, :unmark) AS title,
                 bm25(search_threads, 1.0, 0.0) AS score
          FROM search_threads WHERE search_threads MATCH :titles
          ORDER BY rowid DESC LIMIT :pool)
        SELECT t.id, found.title, t.updated_at, t.visibility
        FROM found JOIN threads t ON t.id = found.thread_id
        WHERE t.user_id = :user_id AND t.deleted_at IS NULL {visible}
        ORDER BY found.score, t.updated_at DESC, t.id LIMIT :limit"""
    MESSAGES = """
        WITH found AS (
          SELECT rowid AS key, message_id, bm25(search_messages, 1.0, 0.0) AS score
          FROM search_messages WHERE search_messages MATCH :query
          ORDER BY rowid DESC LIMIT :pool)
        SELECT found.key, m.id AS message_id, m.role, m.thread_id, t.title, t.updated_at,
               t.visibility
        FROM found JOIN messages m ON m.id = found.message_id
             JOIN threads t ON t.id = m.thread_id
        WHERE t.user_id = :user_id AND t.deleted_at IS NULL {visible}
        ORDER BY found.score, m.created_at DESC, m.id LIMIT :limit"""

    @staticmethod
    def query(words: list[str], user_id: str, column: str) -> str:
        phrases = " AND ".join(f'"{w}"*' for w in words)
        return f'owner : "{owner_token(user_id)}" AND {column} : ({phrases})'

    SNIPPETS = """
        SELECT rowid, snippet(search_messages, 0, :mark, :unmark, '…', 16) FROM search_messages
        WHERE search_messages MATCH :query AND rowid IN :keys"""


class _Postgres:
    """tsvector and GIN indexes (English stemming): ts_rank ranks among the newest POOL
    matches of the owner's; ts_headline marks the words."""

    TITLES = """
        SELECT t.id, ts_headline('english', t.title, to_tsquery('english', :titles),
                                 'HighlightAll=true, StartSel=' || :mark || ', StopSel='
                                 || :unmark) AS title,
               t.updated_at, t.visibility
        FROM threads t
        WHERE to_tsvector('english', t.title) @@ to_tsquery('english', :titles)
              AND t.user_id = :user_id AND t.deleted_at IS NULL {visible}
        ORDER BY ts_rank(to_tsvector('english', t.title), to_tsquery('english', :titles)) DESC,
                 t.updated_at DESC, t.id LIMIT :limit"""
    MESSAGES = """
        WITH found AS (
          SELECT message_id, document FROM search_messages
          WHERE user_id = :user_id AND document @@ to_tsquery('english', :query)
          ORDER BY seq DESC LIMIT :pool)
        SELECT m.id AS key, m.id AS message_id, m.role, m.thread_id, t.title, t.updated_at,
               t.visibility
        FROM found JOIN messages m ON m.id = found.message_id
             JOIN threads t ON t.id = m.thread_id
        WHERE t.user_id = :user_id AND t.deleted_at IS NULL {visible}
        ORDER BY ts_rank(found.document, to_tsquery('english', :query)) DESC,
                 m.created_at DESC, m.id LIMIT :limit"""

    @staticmethod
    def query(words: list[str], user_id: str, column: str) -> str:
        return " & ".join(f"{w}:*" for w in words)

    SNIPPETS = """
        SELECT id, ts_headline('english', left(content, 20000), to_tsquery('english', :query),
                               'MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=1, StartSel='
                               || :mark || ', StopSel=' || :unmark)
        FROM messages WHERE id IN :keys"""


__all__ = ["MessageHit", "Segment", "ThreadHit", "owner_token", "search", "segments", "terms"]
