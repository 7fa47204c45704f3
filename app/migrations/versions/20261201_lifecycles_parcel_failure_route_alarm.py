"""lifecycles: parcel failure reason, route alarm, longer route status

Revision ID: b7c1e4a2f9d3
Revises: d9d973038fc0
Create Date: 2026-12-01 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1e4a2f9d3"
down_revision: str | None = "d9d973038fc0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUTE_STATUSES_BEFORE = ("PLANNED", "PUBLISHED", "IN_PROGRESS", "COMPLETED", "ABORTED", "CANCELLED")
ROUTE_STATUSES_AFTER = (
    "PLANNED",
    "PUBLISHED",
    "IN_PROGRESS",
    "COMPLETED",
    "COMPLETED_WITH_ALARM",
    "ABORTED",
    "CANCELLED",
)


def upgrade() -> None:
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alarm", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("alarm_parcels", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.alter_column(
            "status",
            existing_type=sa.Enum(
                *ROUTE_STATUSES_BEFORE, name="routestatus", native_enum=False, length=16
            ),
            type_=sa.Enum(*ROUTE_STATUSES_AFTER, name="routestatus", native_enum=False, length=24),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.Enum(
                *ROUTE_STATUSES_AFTER, name="routestatus", native_enum=False, length=24
            ),
            type_=sa.Enum(*ROUTE_STATUSES_BEFORE, name="routestatus", native_enum=False, length=16),
            existing_nullable=False,
        )
        batch_op.drop_column("alarm_parcels")
        batch_op.drop_column("alarm")
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
