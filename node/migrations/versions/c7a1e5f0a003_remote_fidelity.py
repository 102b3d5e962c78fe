"""remote content fidelity: content warnings, language, media; refused activities

Revision ID: c7a1e5f0a003
Revises: c7a1e5f0a002
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a003'
down_revision = 'c7a1e5f0a002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
