"""accounts: session epochs, shared rate limits, registration approval

Revision ID: c7a1e5f0a001
Revises: b5d1c0a7e2f4
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a001'
down_revision = 'b5d1c0a7e2f4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_states',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_account_states'))
    )
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_index('ix_rate_counters_expires_at', 'rate_counters', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rate_counters_expires_at', table_name='rate_counters')
    op.drop_table('rate_counters')
    op.drop_table('account_states')
