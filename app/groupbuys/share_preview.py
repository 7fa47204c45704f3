"""What a share link shows before anyone signs in: the group card, and nothing private."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.groupbuys import resident_catalog
from app.groupbuys.errors import GroupBuyNotFound
from app.groupbuys.models import GroupBuy
from app.groupbuys.schemas import CatalogGroupBuy, CatalogWindow
from app.windows import queries as window_queries


@dataclass(frozen=True)
class SharePreview:
    """A shared group buy: its neighborhood's name, its window and its card."""

    neighborhood_id: int
    neighborhood_name: str
    window: CatalogWindow

    @property
    def group_buy(self) -> CatalogGroupBuy:
        """The one group buy the link is for."""
        return self.window.group_buys[0]


def preview(*, db_session: Session, token: str, now: datetime | None = None) -> SharePreview:
    """The public preview of the group buy behind `token`; NotFound for an unknown token."""
    now = now or utcnow()
    row = db_session.execute(
        select(GroupBuy.id, GroupBuy.neighborhood_id).where(GroupBuy.share_token == token)
    ).one_or_none()
    if row is None:
        raise GroupBuyNotFound("no such shared group buy", field="token")
    gb_id, hood_id = row
    place = resident_catalog.place_of(db_session, hood_id)
    gbs = resident_catalog.group_buys_with_products(db_session, group_buy_ids=[gb_id])
    window = window_queries.window_info(db_session, gbs[0].group_buy.window_id)
    assert window is not None
    card = resident_catalog.catalog_window(
        window, gbs, zone=ZoneInfo(place.timezone), currency=place.currency, now=now
    )
    return SharePreview(
        neighborhood_id=hood_id, neighborhood_name=place.neighborhood_name, window=card
    )
