"""locker_temperature_samples: the zones' temperatures over the last hours

Revision ID: 9d3f6b2a8c15
Revises: 5e2a9c7d1f04
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "9d3f6b2a8c15"
down_revision: str | None = "5e2a9c7d1f04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "locker_temperature_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["locker_banks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_locker_temperature_samples_bank_at",
        "locker_temperature_samples",
        ["bank_id", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_locker_temperature_samples_bank_at", table_name="locker_temperature_samples")
    op.drop_table("locker_temperature_samples")
