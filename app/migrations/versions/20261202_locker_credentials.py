"""locker_credentials: each bank's issued MQTT password, as a Mosquitto hash only

Revision ID: 6b9e2d4f1a83
Revises: 3f8b6d1e2a47
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "6b9e2d4f1a83"
down_revision: str | None = "3f8b6d1e2a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "locker_credentials",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("issued_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["locker_banks.id"]),
        sa.PrimaryKeyConstraint("bank_id"),
    )


def downgrade() -> None:
    op.drop_table("locker_credentials")
