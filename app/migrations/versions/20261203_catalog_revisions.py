"""group_buys.revision, products.revision, group_buy_set_revisions: what the residents' cached
catalog compares to know it is stale

Revision ID: 8e4b2f6a1c93
Revises: 6b9e2d4f1a83
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e4b2f6a1c93"
down_revision: str | None = "6b9e2d4f1a83"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_buys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "group_buy_set_revisions",
        sa.Column("neighborhood_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("window_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "neighborhood_id", "window_id", name=op.f("pk_group_buy_set_revisions")
        ),
    )


def downgrade() -> None:
    op.drop_table("group_buy_set_revisions")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("revision")
    with op.batch_alter_table("group_buys", schema=None) as batch_op:
        batch_op.drop_column("revision")
