"""The revision of a neighborhood's set of group buys in a window: moves when one is created or
deleted, so the residents' cached catalog can tell it is stale (changes to a group buy itself
move `GroupBuy.revision`)."""

from sqlalchemy.orm import Session

from app.auth.ratelimit import dialect_insert
from app.groupbuys.models import GroupBuySetRevision


def bump_group_buy_set(db_session: Session, *, neighborhood_id: int, window_id: int) -> None:
    """Move the revision of the neighborhood's group buys in the window (one upsert)."""
    table = GroupBuySetRevision.__table__
    insert = dialect_insert(db_session, table).values(
        neighborhood_id=neighborhood_id, window_id=window_id, revision=1
    )
    db_session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.neighborhood_id, table.c.window_id],
            set_={"revision": table.c.revision + 1},
        )
    )
