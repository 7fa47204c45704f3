"""Pagination shared by every list endpoint: the query parameters, the page, the query helper."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.limits import MAX_INT

T = TypeVar("T")
M = TypeVar("M")


class PageQuery(BaseModel):
    """Pagination of list endpoints: `limit` items from `offset`."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=500, description="Items per page")
    offset: int = Field(0, ge=0, le=MAX_INT, description="Items to skip")


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total number of matching items."""

    items: list[T]
    total: int
    limit: int
    offset: int


def page(*, db_session: Session, query: Select[M], limit: int, offset: int) -> tuple[list[M], int]:
    """One page of `query`'s rows and the total number of rows it matches."""
    total = db_session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db_session.scalars(query.limit(limit).offset(offset)))
    return items, int(total or 0)
