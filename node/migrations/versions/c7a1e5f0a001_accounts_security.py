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
    pass


def downgrade() -> None:
    pass
