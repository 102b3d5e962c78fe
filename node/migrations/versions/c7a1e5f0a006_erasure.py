"""erasure and retention (tombstones, anonymised reactions, retention settings)

Erased accounts leave tombstones: the person's actor row keeps its handle (reserved) with
``deleted_at``; their proposals and initiatives get a ``deleted_at`` as articles, contributions
and notes already have.

Revision ID: c7a1e5f0a006
Revises: c7a1e5f0a005
Create Date: 2026-12-06 11:00:00
"""
import sqlalchemy as sa
from alembic import op

import node.models.base

revision = 'c7a1e5f0a006'
down_revision = 'c7a1e5f0a005'
branch_labels = None
depends_on = None

TABLES = ('actors', 'proposals', 'initiatives')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('deleted_at', node.models.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ has it): batch mode would copy and drop the
    # table, and dropping ``actors`` on SQLite with foreign keys on deletes every row that
    # depends on an actor (ON DELETE CASCADE).
    for table in reversed(TABLES):
        op.execute(f'ALTER TABLE {table} DROP COLUMN deleted_at')
