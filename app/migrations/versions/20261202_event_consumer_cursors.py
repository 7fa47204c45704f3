"""event_consumer_cursors, event_consumer_receipts: the outbox's one consumer, for every reader

The notifications watermark and receipts and the lockers' reservation cursor move into the
shared tables (consumers "notifications" and "lockers.reservations"); the old tables go.

Revision ID: 7a2e5c9d4b61
Revises: c4a1e7d2b9f0
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "7a2e5c9d4b61"
down_revision: str | None = "c4a1e7d2b9f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_consumer_cursors",
        sa.Column("consumer", sa.String(length=60), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_event_consumer_cursors")),
    )
    op.create_table(
        "event_consumer_receipts",
        sa.Column("consumer", sa.String(length=60), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=120), nullable=False),
        sa.Column("processed_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_event_consumer_receipts")),
    )
    op.execute(
        "INSERT INTO event_consumer_cursors (consumer, last_event_id, updated_at) "
        "SELECT consumer, last_event_id, updated_at FROM notification_event_cursor"
    )
    op.execute(
        "INSERT INTO event_consumer_receipts (consumer, event_id, kind, outcome, processed_at) "
        "SELECT 'notifications', event_id, kind, outcome, processed_at "
        "FROM notification_event_receipts"
    )
    op.execute(
        "INSERT INTO event_consumer_cursors (consumer, last_event_id, updated_at) "
        "SELECT 'lockers.reservations', last_event_id, CURRENT_TIMESTAMP "
        "FROM locker_consumer_cursors WHERE name = 'parcel.reserved'"
    )
    op.drop_table("notification_event_receipts")
    op.drop_table("notification_event_cursor")
    op.drop_table("locker_consumer_cursors")


def downgrade() -> None:
    op.create_table(
        "locker_consumer_cursors",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_locker_consumer_cursors")),
    )
    op.create_table(
        "notification_event_cursor",
        sa.Column("consumer", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_notification_event_cursor")),
    )
    op.create_table(
        "notification_event_receipts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=120), nullable=False),
        sa.Column("processed_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_notification_event_receipts")),
    )
    op.execute(
        "INSERT INTO notification_event_cursor (consumer, last_event_id, updated_at) "
        "SELECT consumer, last_event_id, updated_at FROM event_consumer_cursors "
        "WHERE consumer = 'notifications'"
    )
    op.execute(
        "INSERT INTO notification_event_receipts (event_id, kind, outcome, processed_at) "
        "SELECT event_id, kind, outcome, processed_at FROM event_consumer_receipts "
        "WHERE consumer = 'notifications'"
    )
    op.execute(
        "INSERT INTO locker_consumer_cursors (name, last_event_id) "
        "SELECT 'parcel.reserved', last_event_id FROM event_consumer_cursors "
        "WHERE consumer = 'lockers.reservations'"
    )
    op.drop_table("event_consumer_receipts")
    op.drop_table("event_consumer_cursors")
