"""remote content fidelity: content warnings, language, media; refused activities

Revision ID: c7a1e5f0a003
Revises: c7a1e5f0a002
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import node.models.base

revision = 'c7a1e5f0a003'
down_revision = 'c7a1e5f0a002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # contributions: content warning, sensitive mark, language and contentMap (remote fidelity)
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_warning', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('content_map', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
    # actors: a stored profile URL that is not http(s) (``javascript:…``) is never a link again
    op.execute("UPDATE actors SET url = NULL WHERE url IS NOT NULL "
               "AND lower(url) NOT LIKE 'http://%' AND lower(url) NOT LIKE 'https://%'")


def downgrade() -> None:
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_column('content_map')
        batch_op.drop_column('language')
        batch_op.drop_column('sensitive')
        batch_op.drop_column('content_warning')
