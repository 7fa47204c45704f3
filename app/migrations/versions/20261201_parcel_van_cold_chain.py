"""parcels: minutes over the van's cold-chain limit

Revision ID: 5e2a9c7d1f04
Revises: b7c1e4a2f9d3
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2a9c7d1f04"
down_revision: str | None = "b7c1e4a2f9d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("van_minutes_over_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.drop_column("van_minutes_over_limit")
