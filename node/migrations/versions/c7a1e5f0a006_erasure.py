"""erasure and retention (tombstones, anonymised reactions, retention settings)

Revision ID: c7a1e5f0a006
Revises: c7a1e5f0a005
Create Date: 2026-12-06 11:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import node.models.base  # noqa: F401

revision = 'c7a1e5f0a006'
down_revision = 'c7a1e5f0a005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
