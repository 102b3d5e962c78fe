"""privacy and legal notices

Revision ID: c7a1e5f0a007
Revises: c7a1e5f0a006
Create Date: 2026-12-06 11:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import node.models.base  # noqa: F401

revision = 'c7a1e5f0a007'
down_revision = 'c7a1e5f0a006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
