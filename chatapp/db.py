"""The database engine and sessions (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from chatapp.config import get_settings
from chatapp.models.base import storable

T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # A server that does not answer must fail fast, so writers can retry (run_patiently).
        args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.startswith("postgresql") else {}
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                  connect_args=args)
    sa.event.listen(engine, "before_cursor_execute", _storable_parameters, retval=True)
    return engine


def _storable_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> tuple[str, Any]:
    """Every string bound to any statement, on every database, is stored as `storable()` makes
    it: one place for the rule, so no column, bulk update or future table can miss it."""
    if executemany and isinstance(parameters, list):
        return statement, [_clean(p) for p in parameters]
    return statement, _clean(parameters)


def _clean(params: Any) -> Any:
    if isinstance(params, dict):
        if any(isinstance(v, str) and "\x00" in v for v in params.values()):
            return {k: storable(v) if isinstance(v, str) else v for k, v in params.items()}
        return params
    if isinstance(params, tuple | list):
        if any(isinstance(v, str) and "\x00" in v for v in params):
            return type(params)(storable(v) if isinstance(v, str) else v for v in params)
        return params
    return params


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the streaming writer and page readers proceed together.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


async def run(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn(session, *args, **kwargs)` in a worker thread so the event loop never blocks."""

    def call() -> T:
        with session_scope() as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(call)


def is_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (worth retrying), as
    opposed to a statement it refused."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


async def run_patiently(
    fn: Callable[..., T], /, *args: Any, patience: float, first_delay: float = 0.1,
    max_delay: float = 2.0, **kwargs: Any,
) -> T:
    """`run()`, retried with growing pauses while the database is unavailable, for up to
    `patience` seconds; then the last error is raised. Other errors are raised at once."""
    deadline = time.monotonic() + patience
    delay = first_delay
    while True:
        try:
            return await run(fn, *args, **kwargs)
        except Exception as exc:
            if not is_unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable (%s); retrying in %.1f s", type(exc).__name__,
                        delay)
        await asyncio.sleep(delay)
        delay = min(max_delay, delay * 2)
