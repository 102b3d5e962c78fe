"""isolation: inbox attempts, fan-out errors, refused inbound POSTs; self-support removed

Revision ID: c7a1e5f0a004
Revises: c7a1e5f0a003
Create Date: 2026-12-02 03:20:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a004'
down_revision = 'c7a1e5f0a003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_activities') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('outbox_events') as batch:
        batch.add_column(sa.Column('error', sa.Text(), nullable=True))
    op.create_table('inbox_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=2048), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_refusals'))
    )
    # SECURITY.md rule 23: an author's agreement with their own contribution, or support of their
    # own proposal, stored before the rule existed, is removed and the counts recomputed.
    op.execute(
        "DELETE FROM agreements WHERE actor_id = "
        "(SELECT author_id FROM contributions WHERE contributions.id = agreements.contribution_id)")
    op.execute(
        "UPDATE contributions SET agree_count = "
        "(SELECT count(*) FROM agreements WHERE agreements.contribution_id = contributions.id)")
    op.execute(
        "DELETE FROM proposal_supports WHERE actor_id = "
        "(SELECT author_id FROM proposals WHERE proposals.id = proposal_supports.proposal_id)")
    op.execute(
        "UPDATE proposals SET support_count = "
        "(SELECT count(*) FROM proposal_supports WHERE proposal_supports.proposal_id = proposals.id)")


def downgrade() -> None:
    op.drop_table('inbox_refusals')
    with op.batch_alter_table('outbox_events') as batch:
        batch.drop_column('error')
    with op.batch_alter_table('inbox_activities') as batch:
        batch.drop_column('attempts')
