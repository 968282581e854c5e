"""conversations: pinned, archived and forked threads, drafts, and the full-text search index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00

The search index is each database's own engine, kept in step by triggers in the same
transaction as every write (an ended reply is indexed when it ends; a streaming one is not):
- SQLite: FTS5 tables `search_messages` and `search_threads` whose rowids are those of the
  rows they index, with the owner as a token (porter stemming, diacritics folded).
- PostgreSQL: a `search_messages` table of tsvectors with their owner (GIN index) filled by a
  trigger, and a GIN expression index on the thread titles.
They are not in SQLModel.metadata (alembic's env skips names starting with `search_`).

A later migration that rebuilds `messages` or `threads` on SQLite (batch "move and copy") drops
their triggers: it must run SQLITE_DOWN then SQLITE_UP again (this file), which also re-fills
the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDED = "NOT IN ('pending', 'streaming')"
TOKENIZE = "tokenize = 'porter unicode61 remove_diacritics 2'"
# Each indexed row names its owner as one token ("u" and the user id with - and _ spelled out)
# so a search matches the owner and the words in the index itself; the results are joined back
# to the threads and checked against the owner again.
OWNER = "'u' || replace(replace({user_id}, '-', 'x0'), '_', 'x1')"
MESSAGE_OWNER = OWNER.format(user_id="(SELECT user_id FROM threads WHERE id = {m}.thread_id)")

SQLITE_UP = [
    f"""CREATE VIRTUAL TABLE search_messages USING fts5(body, owner, message_id UNINDEXED,
        {TOKENIZE})""",
    f"""CREATE TRIGGER search_messages_insert AFTER INSERT ON messages
        WHEN new.status {ENDED} AND new.content != '' BEGIN
          INSERT INTO search_messages(rowid, body, owner, message_id)
          VALUES (new.rowid, new.content, {MESSAGE_OWNER.format(m="new")}, new.id);
        END""",
    f"""CREATE TRIGGER search_messages_update AFTER UPDATE OF content, status ON messages BEGIN
          DELETE FROM search_messages WHERE rowid = old.rowid;
          INSERT INTO search_messages(rowid, body, owner, message_id)
          SELECT new.rowid, new.content, {MESSAGE_OWNER.format(m="new")}, new.id
          WHERE new.status {ENDED} AND new.content != '';
        END""",
    """CREATE TRIGGER search_messages_delete AFTER DELETE ON messages BEGIN
          DELETE FROM search_messages WHERE rowid = old.rowid;
        END""",
    f"""INSERT INTO search_messages(rowid, body, owner, message_id)
        SELECT m.rowid, m.content, {OWNER.format(user_id="t.user_id")}, m.id
        FROM messages m JOIN threads t ON t.id = m.thread_id
        WHERE m.status {ENDED} AND m.content != ''""",
    f"""CREATE VIRTUAL TABLE search_threads USING fts5(title, owner, thread_id UNINDEXED,
        {TOKENIZE})""",
    f"""CREATE TRIGGER search_threads_insert AFTER INSERT ON threads BEGIN
          INSERT INTO search_threads(rowid, title, owner, thread_id)
          VALUES (new.rowid, new.title, {OWNER.format(user_id="new.user_id")}, new.id);
        END""",
    """CREATE TRIGGER search_threads_update AFTER UPDATE OF title ON threads BEGIN
          UPDATE search_threads SET title = new.title WHERE rowid = old.rowid;
        END""",
    """CREATE TRIGGER search_threads_delete AFTER DELETE ON threads BEGIN
          DELETE FROM search_threads WHERE rowid = old.rowid;
        END""",
    f"""INSERT INTO search_threads(rowid, title, owner, thread_id)
        SELECT rowid, title, {OWNER.format(user_id="user_id")}, id FROM threads""",
]
SQLITE_DOWN = [
    *(f"DROP TRIGGER IF EXISTS search_{t}_{op}" for t in ("messages", "threads")
      for op in ("insert", "update", "delete")),
    "DROP TABLE IF EXISTS search_messages",
    "DROP TABLE IF EXISTS search_threads",
]

# tsvector is limited to 1 MB: the first 200,000 characters of a message are indexed. `seq`
# orders a user's rows newest first, so a word found in most of them is ranked among the
# newest few thousand without reading them all.
POSTGRES_UP = [
    """CREATE TABLE search_messages (
          message_id varchar(32) PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
          user_id varchar(32) NOT NULL,
          seq bigserial NOT NULL,
          document tsvector NOT NULL)""",
    "CREATE INDEX search_messages_document ON search_messages USING gin (document)",
    "CREATE INDEX search_messages_user_seq ON search_messages (user_id, seq)",
    f"""CREATE FUNCTION search_messages_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status {ENDED} AND NEW.content <> '' THEN
            INSERT INTO search_messages(message_id, user_id, document)
            SELECT NEW.id, t.user_id, to_tsvector('english', left(NEW.content, 200000))
            FROM threads t WHERE t.id = NEW.thread_id
            ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document;
          ELSIF TG_OP = 'UPDATE' THEN
            DELETE FROM search_messages WHERE message_id = NEW.id;
          END IF;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER search_messages_sync AFTER INSERT OR UPDATE OF content, status ON messages
        FOR EACH ROW EXECUTE FUNCTION search_messages_sync()""",
    f"""INSERT INTO search_messages(message_id, user_id, document)
        SELECT m.id, t.user_id, to_tsvector('english', left(m.content, 200000))
        FROM messages m JOIN threads t ON t.id = m.thread_id
        WHERE m.status {ENDED} AND m.content <> '' ORDER BY m.created_at""",
    "CREATE INDEX search_threads_title ON threads USING gin (to_tsvector('english', title))",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS search_threads_title",
    "DROP TRIGGER IF EXISTS search_messages_sync ON messages",
    "DROP FUNCTION IF EXISTS search_messages_sync()",
    "DROP TABLE IF EXISTS search_messages",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("title_by_user", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("pinned", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=16),
                                   nullable=False, server_default="visible"))
        batch.add_column(sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
        batch.add_column(sa.Column("forked_from_thread_id",
                                   sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.add_column(sa.Column("forked_from_message_id",
                                   sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.create_index("ix_threads_user_list",
                           ["user_id", "visibility", "pinned", "updated_at"], unique=False)
    op.create_table(
        "drafts",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("slot", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "slot"),
    )
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
    op.drop_table("drafts")
    # Threads in their undo window were on their way out: they go now.
    op.execute("DELETE FROM threads WHERE deleted_at IS NOT NULL")
    with op.batch_alter_table("threads") as batch:
        batch.drop_index("ix_threads_user_list")
        for name in ("forked_from_message_id", "forked_from_thread_id", "deleted_at",
                     "visibility", "pinned", "title_by_user"):
            batch.drop_column(name)
