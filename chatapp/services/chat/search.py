"""Full-text search over one user's thread titles and messages, on each database's own engine
(SQLite FTS5, PostgreSQL tsvector with GIN indexes; made and kept in step by migration 0006):
ranked, grouped by thread, with the matching words marked in a snippet."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, NamedTuple

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
# SQLite ranks its pool itself, reading the start of each message (see _SQLite): half as many.
SQLITE_POOL = 1000


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
    visible = "" if include_archived else "AND t.visibility = 'visible'"
    found: dict[str, ThreadHit] = {}
    for row in engine.titles(session, words, user_id, visible, max_threads):
        found[row.id] = ThreadHit(row.id, segments(row.title), row.updated_at,
                                  row.visibility == "archived")
    ranked = engine.messages(session, words, user_id, visible, MESSAGE_CANDIDATES)
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
    snippets = engine.snippets(session, words, user_id, chosen)
    for row in chosen:
        found[row.thread_id].hits.append(
            MessageHit(row.message_id, row.role, segments(snippets.get(row.key, ""))))
    return list(found.values())


def owner_token(user_id: str) -> str:
    """The user as one index token (migration 0006 writes the same)."""
    return "u" + user_id.replace("-", "x0").replace("_", "x1")


def _marked(session: Session, sql: str, params: dict[str, Any], keys: list[Any]) -> dict[Any, str]:
    """Each chosen row's text with its words marked, by its key (one query)."""
    if not keys:
        return {}
    rows = session.execute(sa.text(sql).bindparams(sa.bindparam("keys", expanding=True)),
                           {**params, "keys": keys, "mark": MARK, "unmark": UNMARK})
    return {r[0]: r[1] for r in rows}


def _typed(sql: str) -> Any:
    return sa.text(sql).columns(updated_at=UTCDateTime())  # aware, in UTC


def segments(text: str) -> list[Segment]:
    """A snippet cut into plain and marked parts."""
    out: list[Segment] = []
    for i, piece in enumerate(re.split(f"[{MARK}{UNMARK}]", text)):
        if piece:
            out.append(Segment(" ".join(piece.split()) if "\n" in piece else piece, i % 2 == 1))
    return out


class _Title(NamedTuple):
    id: str
    title: str
    updated_at: datetime
    visibility: str


class _Message(NamedTuple):
    key: int
    message_id: str
    role: str
    thread_id: str
    title: str
    updated_at: datetime
    visibility: str
    text: str  # the start of the message, as ranked


# FTS5's bm25() constants.
K1, B = 1.2, 0.75
# A message's words are counted in its first this many characters (the counts scaled up to its
# whole length): ranking reads a bounded amount of text however long the replies are.
SCAN = 2000
MAX_FORMS = 32  # a word's forms in the shown messages marked as exact terms, at most
_COMBINING = re.compile("[\u0300-\u036f]")


class _SQLite:
    """FTS5 finds the newest SQLITE_POOL matches of the owner's (ORDER BY rowid DESC: cheap, no
    rank is computed in the index); they are joined by rowid (the index's rowids are those of
    the rows, migration 0006), each row's owner checked again, and ranked here by BM25 over
    those rows; highlight() and snippet() mark the words of the few shown.

    Not bm25(): on its first call it counts the rows holding each phrase of the query, all of
    them, the owner's phrase (every row of theirs) included, so its cost grew with the whole
    index however small the pool."""

    TITLES = """
        WITH found AS (
          SELECT rowid AS key FROM search_threads WHERE search_threads MATCH :titles
          ORDER BY rowid DESC LIMIT :pool)
        SELECT found.key, t.id, t.title, t.updated_at, t.visibility
        FROM found JOIN threads t ON t.rowid = found.key
        WHERE t.user_id = :user_id AND t.deleted_at IS NULL {visible}"""
    MESSAGES = """
        WITH found AS (
          SELECT rowid AS key FROM search_messages WHERE search_messages MATCH :query
          ORDER BY rowid DESC LIMIT :pool)
        SELECT found.key, m.id AS message_id, m.role, m.thread_id, m.created_at,
               substr(m.content, 1, :scan) AS text, length(m.content) AS size,
               t.title, t.updated_at, t.visibility
        FROM found JOIN messages m ON m.rowid = found.key JOIN threads t ON t.id = m.thread_id
        WHERE t.user_id = :user_id AND t.deleted_at IS NULL {visible}"""
    # The keys are found in one scan of the range they span (`+rowid` keeps SQLite from handing
    # the IN list to FTS5, which would run the whole query again for each key: for a common
    # word, every match of it each time).
    HIGHLIGHTS = """
        SELECT rowid, highlight(search_threads, 0, :mark, :unmark) FROM search_threads
        WHERE search_threads MATCH :titles AND rowid BETWEEN :low AND :high AND +rowid IN :keys"""
    SNIPPETS = """
        SELECT rowid, snippet(search_messages, 0, :mark, :unmark, '…', 16) FROM search_messages
        WHERE search_messages MATCH :query AND rowid BETWEEN :low AND :high AND +rowid IN :keys"""

    @staticmethod
    def query(words: list[str], user_id: str, column: str) -> str:
        phrases = " AND ".join(f'"{w}"*' for w in words)
        return f'owner : "{owner_token(user_id)}" AND {column} : ({phrases})'

    @classmethod
    def titles(cls, session: Session, words: list[str], user_id: str, visible: str,
               limit: int) -> list[_Title]:
        match = cls.query(words, user_id, "title")
        rows = session.execute(sa.text(cls.TITLES.format(visible=visible)), {
            "titles": match, "user_id": user_id, "pool": SQLITE_POOL}).all()
        weights = _weights(session, "search_threads", "title", "threads", words)
        scores = _bm25([(r.title, len(r.title)) for r in rows], words, weights)
        best = _best(rows, scores, lambda r: (r.updated_at, r.id), limit)
        keys = [r.key for r in best]
        marked = _marked(session, cls.HIGHLIGHTS, _span({"titles": match}, keys), keys)
        when = _datetimes(session)
        return [_Title(r.id, marked.get(r.key, r.title), when(r.updated_at), r.visibility)
                for r in best]

    @classmethod
    def messages(cls, session: Session, words: list[str], user_id: str, visible: str,
                 limit: int) -> list[_Message]:
        rows = session.execute(sa.text(cls.MESSAGES.format(visible=visible)), {
            "query": cls.query(words, user_id, "body"), "user_id": user_id, "pool": SQLITE_POOL,
            "scan": SCAN}).all()
        weights = _weights(session, "search_messages", "body", "messages", words)
        scores = _bm25([(r.text, r.size) for r in rows], words, weights)
        when = _datetimes(session)
        return [_Message(r.key, r.message_id, r.role, r.thread_id, r.title,
                         when(r.updated_at), r.visibility, r.text)
                for r in _best(rows, scores, lambda r: (r.created_at, r.message_id), limit)]

    @classmethod
    def snippets(cls, session: Session, words: list[str], user_id: str,
                 rows: list[_Message]) -> dict[Any, str]:
        if not rows:
            return {}
        keys = [r.key for r in rows]
        query = cls.as_written(words, user_id, [r.text for r in rows])
        found = _marked(session, cls.SNIPPETS, _span({"query": query}, keys), keys)
        missed = [k for k in keys if k not in found]
        if missed:  # the form that matched lies past the text read, or only the stemmer saw it
            found |= _marked(session, cls.SNIPPETS, _span(
                {"query": cls.query(words, user_id, "body")}, missed), missed)
        return found

    @staticmethod
    def as_written(words: list[str], user_id: str, texts: list[str]) -> str:
        """The message query with each word as the whole words starting with it that `texts`
        hold, each an exact term (stemmed as the index is). FTS5 reads an exact term's matches
        in the rowid range asked for only, where a prefix phrase first gathers every match of
        it in the index (for a common word, most of the index; for a short prefix, more)."""
        folded = [_fold(t) for t in texts]
        parts = []
        for word in words:
            starts = re.compile(rf"(?<![^\W_]){re.escape(_fold(word))}[^\W_]*")
            forms = sorted({form for text in folded for form in starts.findall(text)})
            parts.append(" OR ".join(f'"{f}"' for f in forms)
                         if 0 < len(forms) <= MAX_FORMS else f'"{word}"*')
        alternatives = " AND ".join(f"({p})" for p in parts)
        return f'owner : "{owner_token(user_id)}" AND body : ({alternatives})'


def _span(params: dict[str, Any], keys: list[Any]) -> dict[str, Any]:
    return {**params, "low": min(keys, default=0), "high": max(keys, default=0)}


def _datetimes(session: Session) -> Callable[[Any], Any]:
    """SQLite's stored text to the aware datetime a typed column gives (converting only the
    rows kept, not the whole pool)."""
    dialect = session.get_bind().dialect
    convert = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    return convert or (lambda value: value)


def _best(rows: Sequence[Any], scores: list[float], tie: Callable[[Any], tuple[str, str]],
          limit: int) -> list[Any]:
    """The `limit` best-scored rows; among equals the newest (the first of `tie`, stored text
    that sorts as time does), then by id (its second)."""
    best: list[Any] = []
    order = sorted(range(len(rows)), key=scores.__getitem__, reverse=True)
    for _score, group in groupby(order, key=scores.__getitem__):
        equals = [rows[i] for i in group]
        if len(equals) > 1:
            equals.sort(key=lambda r: tie(r)[1])
            equals.sort(key=lambda r: tie(r)[0], reverse=True)  # stable: ids stay in order
        best.extend(equals)
        if len(best) >= limit:
            break
    return best[:limit]


def _weights(session: Session, table: str, column: str, source: str,
             words: list[str]) -> list[float]:
    """Each word's inverse document frequency over the whole index, as bm25() has it. One word
    needs none (it scales every score alike); for more, each word's rows are counted, which
    costs what matching it does (the owner's phrase, that every row of theirs holds, is not)."""
    if len(words) == 1:
        return [1.0]
    counts = ", ".join(f"(SELECT count(*) FROM {table} WHERE {table} MATCH :w{i})"
                       for i in range(len(words)))
    row = session.execute(sa.text(f"SELECT (SELECT max(rowid) FROM {source}), {counts}"),
                          {f"w{i}": f'{column} : "{w}"*' for i, w in enumerate(words)}).one()
    total = max([row[0] or 0, *row[1:]])  # rows ever stored: the index holds no more
    return [max(1e-6, math.log((total - n + 0.5) / (n + 0.5))) for n in row[1:]]


def _bm25(docs: list[tuple[str, int]], words: list[str], weights: list[float]) -> list[float]:
    """Okapi BM25 (higher is better, bm25()'s constants) of each (text, its whole length in
    characters): a word's frequency is how many words of the text start with it (case and
    diacritics folded, as the index does), at least 1 since the index matched it (its stemmer
    finds forms that a prefix does not); a document's length is its words (spaces and line
    breaks), relative to these documents' average. Both are scaled up to the whole length when
    only the start of the text was read."""
    if not docs:
        return []
    bodies, scales, lengths = [], [], []
    for text, size in docs:
        body = text.lower() if text.isascii() else _fold(text)
        scale = size / len(text) if 0 < len(text) < size else 1.0
        bodies.append(body)
        scales.append(scale)
        lengths.append((body.count(" ") + body.count("\n") + 1) * scale)
    flat, per_word = K1 * (1 - B), K1 * B * len(lengths) / sum(lengths)
    query = [(w, " " + w, weight * (K1 + 1))
             for w, weight in zip(map(_fold, words), weights, strict=True)]
    scores = []
    for body, scale, length in zip(bodies, scales, lengths, strict=True):
        norm = flat + per_word * length
        score = 0.0
        for word, spaced, weight in query:
            tf = body.count(word)
            if tf != body.count(spaced) + body.startswith(word):
                tf = _starts(body, word)  # some follow no space: look at each
            tf = max(1.0, tf * scale)
            score += weight * tf / (tf + norm)
        scores.append(score)
    return scores


def _fold(text: str) -> str:
    text = text.casefold()
    return text if text.isascii() else _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def _starts(text: str, word: str) -> int:
    """How many words of `text` start with `word`."""
    count, i = 0, text.find(word)
    while i >= 0:
        if i == 0 or not text[i - 1].isalnum():
            count += 1
        i = text.find(word, i + len(word))
    return count


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

    SNIPPETS = """
        SELECT id, ts_headline('english', left(content, 20000), to_tsquery('english', :query),
                               'MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=1, StartSel='
                               || :mark || ', StopSel=' || :unmark)
        FROM messages WHERE id IN :keys"""

    @staticmethod
    def query(words: list[str]) -> str:
        return " & ".join(f"{w}:*" for w in words)

    @classmethod
    def titles(cls, session: Session, words: list[str], user_id: str, visible: str,
               limit: int) -> list[Any]:
        return list(session.execute(_typed(cls.TITLES.format(visible=visible)), {
            "titles": cls.query(words), "user_id": user_id, "limit": limit, "mark": MARK,
            "unmark": UNMARK}))

    @classmethod
    def messages(cls, session: Session, words: list[str], user_id: str, visible: str,
                 limit: int) -> list[Any]:
        return list(session.execute(_typed(cls.MESSAGES.format(visible=visible)), {
            "query": cls.query(words), "user_id": user_id, "limit": limit, "pool": POOL}))

    @classmethod
    def snippets(cls, session: Session, words: list[str], user_id: str,
                 rows: list[Any]) -> dict[Any, str]:
        return _marked(session, cls.SNIPPETS, {"query": cls.query(words)}, [r.key for r in rows])


__all__ = ["MessageHit", "Segment", "ThreadHit", "owner_token", "search", "segments", "terms"]
