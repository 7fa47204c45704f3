"""parcels: drop the order_id index (the unique (order_id, temperature_class, sequence) key
serves it) and index bank_id, compartment_id and route_stop_id only where set; order_lines:
drop the order_id index (the unique (order_id, group_buy_id) key serves it); outbox_events:
drop the processed_at index (no query reads that column)

The cut-off writes 23,000 packed parcels with none of the three set, then moves each one to its
compartment; the close rewrites every order line of the window; the close and the publish
write 48,000 events: every index is maintained on each of those writes.

Revision ID: 3c7d1e9a5b42
Revises: 8e4b2f6a1c93
Create Date: 2026-12-03 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c7d1e9a5b42"
down_revision: str | None = "8e4b2f6a1c93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL = ("bank_id", "compartment_id", "route_stop_id")


def upgrade() -> None:
    op.drop_index("ix_outbox_events_processed_at", table_name="outbox_events")
    op.drop_index("ix_order_lines_order_id", table_name="order_lines")
    op.drop_index("ix_parcels_order_id", table_name="parcels")
    for column in PARTIAL:
        op.drop_index(f"ix_parcels_{column}", table_name="parcels")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_parcels_{column}",
            "parcels",
            [column],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    for column in PARTIAL:
        op.drop_index(f"ix_parcels_{column}", table_name="parcels")
        op.create_index(f"ix_parcels_{column}", "parcels", [column])
    op.create_index("ix_parcels_order_id", "parcels", ["order_id"])
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])
    op.create_index("ix_outbox_events_processed_at", "outbox_events", ["processed_at"])
