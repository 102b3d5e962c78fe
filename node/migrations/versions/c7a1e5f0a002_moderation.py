"""federated moderation: reports, remote account blocks, moderation log, hidden content

Revision ID: c7a1e5f0a002
Revises: c7a1e5f0a001
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a002'
down_revision = 'c7a1e5f0a001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
