"""Alembic environment: migrates the database named by chatapp's settings."""

from logging.config import fileConfig

from sqlmodel import SQLModel

from alembic import context
from chatapp import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from chatapp.config import get_settings
from chatapp.db import make_engine
from chatapp.models.base import in_models

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def include_name(name: str | None, _type: str, _parents: dict) -> bool:
    return in_models(name)  # the search index is migration 0006's, not the models'


def database_url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
