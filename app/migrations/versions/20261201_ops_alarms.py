"""ops_alarms and ops_alarm_log: the operators' alarms, one per (source, type), and history

Revision ID: c4a1e7d2b9f0
Revises: 4c7e1a9b2d30
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "c4a1e7d2b9f0"
down_revision: str | None = "4c7e1a9b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = sa.Enum(
    "ACTIVE_UNACK",
    "ACTIVE_ACK",
    "CLEARED_UNACK",
    "CLEARED_ACK",
    name="alarmstate",
    native_enum=False,
    length=16,
)
SEVERITY = sa.Enum(
    "CRITICAL", "MAJOR", "MINOR", "WARNING", name="severity", native_enum=False, length=12
)
UTC = app.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ops_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("severity", SEVERITY, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_raised_at", UTC, nullable=False),
        sa.Column("raised_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("cleared_at", UTC, nullable=True),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("ack_comment", sa.String(length=500), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["staff_users.id"]),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "type"),
    )
    op.create_index("ix_ops_alarms_city_id", "ops_alarms", ["city_id"], unique=False)
    op.create_index("ix_ops_alarms_state", "ops_alarms", ["state"], unique=False)
    op.create_table(
        "ops_alarm_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("severity", SEVERITY, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["staff_users.id"]),
        sa.ForeignKeyConstraint(["alarm_id"], ["ops_alarms.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ops_alarm_log_alarm_id", "ops_alarm_log", ["alarm_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ops_alarm_log_alarm_id", table_name="ops_alarm_log")
    op.drop_table("ops_alarm_log")
    op.drop_index("ix_ops_alarms_state", table_name="ops_alarms")
    op.drop_index("ix_ops_alarms_city_id", table_name="ops_alarms")
    op.drop_table("ops_alarms")
