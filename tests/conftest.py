"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from alembic import command
from chatapp import db
from chatapp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("CHATAPP_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("CHATAPP_TEST_REDIS_URL")
_template_ready = False


def migrate(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def _admin_engine() -> Engine:
    assert POSTGRES_URL
    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _postgres_database() -> str:
    """A new database cloned from a migrated template (one migration per run, not per test)."""
    global _template_ready
    admin = _admin_engine()
    base = make_url(POSTGRES_URL)
    with admin.connect() as conn:
        if not _template_ready:
            conn.execute(sa.text("DROP DATABASE IF EXISTS chatapp_template"))
            conn.execute(sa.text("CREATE DATABASE chatapp_template"))
            migrate(base.set(database="chatapp_template").render_as_string(hide_password=False))
            _template_ready = True
        name = f"t_{secrets.token_hex(6)}"
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE chatapp_template"))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database: a SQLite file, or a PostgreSQL database on the test server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        migrate(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("CHATAPP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    url = _postgres_database()
    yield url
    # A real engine made for this database (not the test's patched one) must let go of it.
    getattr(db.get_engine, "cache_clear", lambda: None)()
    _drop_postgres_database(url)


@pytest.fixture
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The test database's engine, also used by code that calls chatapp.db.run()."""
    eng = db.make_engine(database_url)
    monkeypatch.setattr(db, "get_engine", lambda: eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.commit()


@pytest.fixture
def settings() -> Settings:
    """Settings with only the local model configured and fast streaming cadence."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key="test-server-secret-" + "s" * 24,
        database_url="sqlite://",
        stream_flush_seconds=0.02,
        stream_checkpoint_seconds=0.1,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last: Playwright's sync API keeps an event loop running in
    this thread for the rest of the session, which pytest-asyncio's tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
