"""privacy and legal notices

Revision ID: c7a1e5f0a007
Revises: c7a1e5f0a006
Create Date: 2026-12-06 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a007'
down_revision = 'c7a1e5f0a006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('legal_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_legal_texts_updated_by_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_texts')),
    sa.UniqueConstraint('kind', 'language', name=op.f('uq_legal_texts_kind_language'))
    )


def downgrade() -> None:
    op.drop_table('legal_texts')
