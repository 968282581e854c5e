"""Full-text search latency over a large history, on SQLite FTS5 and PostgreSQL side by side.

Builds one user's 10,000 threads holding 200,000 messages (words drawn from a 5,000-word
vocabulary with a Zipf-like spread, as real text is; plus a second user's 20,000 messages
with the same words, so every query also filters by owner), through the real schema and its
triggers, then times `search.search` (ranked message hits, title hits, snippets) for a mix of
queries: a common word, a mid-frequency word, a rare word, two words, a prefix as typed.

Usage: scripts/bench.sh search [--threads 10000 --messages 200000 --queries 200]
                              [--sqlite-file PATH]
`--sqlite-file` keeps the SQLite database there and reuses it on the next run (it is filled
only when absent: delete it after changing the sizes or the schema).
PostgreSQL runs when CHATAPP_BENCH_POSTGRES_URL (or CHATAPP_TEST_POSTGRES_URL) is set; the
test command's server is used by `scripts/bench.sh search`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from chatapp.db import make_engine
from chatapp.models import Message, Thread, User
from chatapp.models.base import new_id, utcnow
from chatapp.services.chat import search
from tests.conftest import migrate

SEED = 20261202
KINDS = ("common word", "mid word", "rare word", "two words", "prefix")


def vocabulary(n: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def fill(engine: sa.Engine, *, threads: int, messages: int, rng: random.Random,
         words: list[str]) -> str:
    weights = [1 / (rank + 1) for rank in range(len(words))]

    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights, k=n))

    def add_user(n_threads: int, n_messages: int) -> str:
        user_id = new_id()
        with Session(engine) as s:
            s.add(User(id=user_id, is_anonymous=False))
            s.commit()
        per_thread = max(1, n_messages // n_threads)
        now = utcnow()
        for start in range(0, n_threads, 500):
            thread_rows, message_rows = [], []
            for t in range(start, min(start + 500, n_threads)):
                tid = new_id()
                parent = None
                moment = now - timedelta(minutes=t)
                for i in range(per_thread):
                    mid = new_id()
                    message_rows.append({
                        "id": mid, "thread_id": tid, "parent_id": parent,
                        "role": "user" if i % 2 == 0 else "assistant",
                        "content": text(rng.randint(10, 60)), "reasoning": "",
                        "status": "complete", "created_at": moment, "updated_at": moment})
                    parent = mid
                thread_rows.append({
                    "id": tid, "user_id": user_id, "title": text(rng.randint(2, 6)),
                    "title_generated": True, "title_by_user": False, "model_id": "openai/x",
                    "leaf_message_id": parent, "pinned": False, "visibility": "visible",
                    "created_at": moment, "updated_at": moment})
            with engine.begin() as conn:
                conn.execute(sa.insert(Thread.__table__), thread_rows)  # type: ignore[attr-defined]
                conn.execute(sa.insert(Message.__table__), message_rows)  # type: ignore[attr-defined]
        return user_id

    user_id = add_user(threads, messages)
    add_user(max(1, threads // 10), messages // 10)  # someone else with the same words
    return user_id


def queries(n: int, rng: random.Random, words: list[str]) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "common word":
            q = rng.choice(words[:10])
        elif kind == "mid word":
            q = rng.choice(words[100:1000])
        elif kind == "rare word":
            q = rng.choice(words[3000:])
        elif kind == "two words":
            q = f"{rng.choice(words[20:400])} {rng.choice(words[20:400])}"
        else:
            q = rng.choice(words[50:2000])[:4]
        out.append((kind, q))
    return out


def measure(url: str, args: argparse.Namespace, *,
            reuse: bool = False) -> dict[str, list[float]]:
    rng = random.Random(SEED)
    words = vocabulary(5000, rng)
    if reuse:
        engine = make_engine(url)
        user_id = _busiest_user(engine)
        print("  reused the filled database")
    else:
        migrate(url)
        engine = make_engine(url)
        started = time.perf_counter()
        user_id = fill(engine, threads=args.threads, messages=args.messages, rng=rng,
                       words=words)
        print(f"  filled in {time.perf_counter() - started:.0f} s")
    rng = random.Random(SEED + 1)  # the queries do not depend on whether this run filled
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    timings: dict[str, list[float]] = {k: [] for k in KINDS}
    with Session(engine) as s:
        for _kind, q in queries(10, rng, words):  # warm the caches
            search.search(s, user_id=user_id, query=q)
        for kind, q in queries(args.queries, rng, words):
            t0 = time.perf_counter()
            search.search(s, user_id=user_id, query=q)
            timings[kind].append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sqlite-file", type=Path, default=None,
                        help="keep the SQLite database here; reuse it when it exists")
    args = parser.parse_args()
    engines: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="chatapp-search-bench-") as tmp:
        kept: Path | None = args.sqlite_file
        reuse = kept is not None and kept.exists()
        sqlite_path = kept if reuse else Path(tmp) / "bench.db"
        engines.append(("SQLite FTS5", f"sqlite:///{sqlite_path}"))
        pg = os.environ.get("CHATAPP_BENCH_POSTGRES_URL") or os.environ.get(
            "CHATAPP_TEST_POSTGRES_URL")
        if pg:
            engines.append(("PostgreSQL tsvector", _fresh_postgres(pg)))
        rows = []
        for name, url in engines:
            print(f"{name}: {args.threads:,} threads, {args.messages:,} messages")
            sqlite = url.startswith("sqlite")
            timings = measure(url, args, reuse=sqlite and reuse)
            if sqlite and kept is not None and not reuse:  # filled completely: keep it
                kept.parent.mkdir(parents=True, exist_ok=True)
                for suffix in ("", "-wal", "-shm"):
                    if Path(f"{sqlite_path}{suffix}").exists():
                        shutil.move(f"{sqlite_path}{suffix}", f"{kept}{suffix}")
            every = [t for ts in timings.values() for t in ts]
            rows.append((name, timings, every))
    print(f"\n{args.threads:,} threads, {args.messages:,} messages of one user (and "
          f"{args.messages // 10:,} of another); {args.queries} queries; ms\n")
    print("| engine | p50 | p95 | " + " | ".join(f"{k} p50 / p95" for k in KINDS) + " |")
    print("|---|---|---|" + "---|" * len(KINDS))
    for name, timings, every in rows:
        cells = " | ".join(f"{statistics.median(timings[k]):.1f} / {pct(timings[k], 95):.1f}"
                           for k in KINDS)
        print(f"| {name} | {statistics.median(every):.1f} | {pct(every, 95):.1f} | {cells} |")


def _busiest_user(engine: sa.Engine) -> str:
    """The user a reused database was filled for: the one with the most threads."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT user_id FROM threads GROUP BY user_id "
                                    "ORDER BY count(*) DESC LIMIT 1")).scalar_one()


def _fresh_postgres(admin_url: str) -> str:
    name = f"bench_{new_id().lower().replace('-', '_')[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
