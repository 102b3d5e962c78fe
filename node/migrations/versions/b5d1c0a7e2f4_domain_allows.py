"""domain allows (allow-list mode)

Revision ID: b5d1c0a7e2f4
Revises: 7e34abe00c29
Create Date: 2026-11-22 14:10:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'b5d1c0a7e2f4'
down_revision = '7e34abe00c29'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('domain_allows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_allows')),
    sa.UniqueConstraint('domain', name=op.f('uq_domain_allows_domain'))
    )


def downgrade() -> None:
    op.drop_table('domain_allows')
