"""Alembic migrations from an empty database match the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import chatapp.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import command
from chatapp.db import make_engine
from chatapp.models.base import in_models

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("CHATAPP_TEST_POSTGRES_URL")
TABLES = {
    "users", "auth_sessions", "identities", "threads", "messages", "api_keys", "usage_records",
    "budget_buckets", "user_settings", "drafts",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it (no template, no migrations yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("CHATAPP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    name = f"m_{secrets.token_hex(6)}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE template0"))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _alembic(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def _tables(url: str) -> set[str]:
    """The tables the models describe (the search index's are checked by its own tests)."""
    engine = make_engine(url)
    try:
        return {t for t in sa.inspect(engine).get_table_names() if in_models(t)}
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    """What `alembic check` would report: schema drift between the database and the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": lambda name, *_: in_models(name)})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_the_schema_the_models_describe(empty_database: str) -> None:
    assert _tables(empty_database) == set()
    cfg = _alembic(empty_database)

    command.upgrade(cfg, "head")

    assert _tables(empty_database) == TABLES | {"alembic_version"}
    assert _differences(empty_database) == []


def test_downgrade_to_base_and_upgrade_again(empty_database: str) -> None:
    cfg = _alembic(empty_database)
    command.upgrade(cfg, "head")

    command.downgrade(cfg, "base")
    assert _tables(empty_database) & TABLES == set()

    command.upgrade(cfg, "head")
    assert _tables(empty_database) == TABLES | {"alembic_version"}
    assert _differences(empty_database) == []
    engine = make_engine(empty_database)
    try:
        with engine.begin() as conn:  # the re-created tables take rows, foreign keys and all
            conn.execute(sa.text(
                "INSERT INTO users (id, is_anonymous, created_at) "
                "VALUES ('u1', true, CURRENT_TIMESTAMP)"
            ))
            conn.execute(sa.text(
                "INSERT INTO threads (id, user_id, title, title_generated, model_id, "
                "created_at, updated_at) VALUES ('t1', 'u1', 'x', false, 'm', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO threads (id, user_id, title, title_generated, model_id, "
                "created_at, updated_at) VALUES ('t2', 'nobody', 'x', false, 'm', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ))
    finally:
        engine.dispose()
