"""driver_action_receipts: each driver action from the phone applied once by its id

Revision ID: 4c7e1a9b2d30
Revises: 9d3f6b2a8c15
Create Date: 2026-12-01 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "4c7e1a9b2d30"
down_revision: str | None = "9d3f6b2a8c15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "driver_action_receipts",
        sa.Column("action_id", sa.String(length=36), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=True),
        sa.Column("parcel_id", sa.Integer(), nullable=True),
        sa.Column("device_time", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("message", sa.String(length=300), nullable=True),
        sa.Column("command_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["driver_id"], ["staff_users.id"]),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"]),
        sa.PrimaryKeyConstraint("action_id"),
    )
    op.create_index("ix_driver_action_receipts_driver_id", "driver_action_receipts", ["driver_id"])
    op.create_index("ix_driver_action_receipts_route_id", "driver_action_receipts", ["route_id"])


def downgrade() -> None:
    op.drop_index("ix_driver_action_receipts_route_id", table_name="driver_action_receipts")
    op.drop_index("ix_driver_action_receipts_driver_id", table_name="driver_action_receipts")
    op.drop_table("driver_action_receipts")
