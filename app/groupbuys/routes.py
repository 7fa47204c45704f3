"""Group-buy endpoints: the resident catalog and share links; operator management and closing."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.auth.deps import CurrentOperator, CurrentResident, TokenPrincipal, as_resident
from app.core.db import SessionDep
from app.core.limits import MAX_INT
from app.groupbuys import catalog_cache, closing, resident_catalog
from app.groupbuys import service as groupbuy_service
from app.groupbuys.models import GroupBuyStatus
from app.groupbuys.schemas import (
    MAX_ID,
    CatalogRead,
    CloseSummaryRead,
    GroupBuyCreate,
    GroupBuyPage,
    GroupBuyRead,
    GroupBuyUpdate,
    SharedGroupBuyRead,
    ShareLinkRead,
)
from app.residents.queries import ResidentAccount
from app.windows import queries as window_queries
from app.windows.service import WindowNotFound

router = APIRouter()
GroupBuyId = Annotated[int, Path(ge=1, le=MAX_ID)]
WindowId = Annotated[int, Path(ge=1, le=MAX_ID)]


# --- residents -------------------------------------------------------------------------------


@router.get(
    "/catalog",
    response_model=CatalogRead,
    tags=["resident"],
    summary="My neighborhood's open windows and group buys, with progress",
)
async def read_catalog(
    principal: TokenPrincipal,
    db: SessionDep,
    request: Request,
    window_id: Annotated[
        int | None, Query(gt=0, le=MAX_ID, description="Only this window (open or not) of my city")
    ] = None,
) -> Response:
    """Every group buy of the caller's neighborhood in the open windows (or the given one).

    The residents' most frequent read: read-only, in one hop to a worker thread."""
    cache = catalog_cache.cache_of(request.app.state)

    def answer(resident: ResidentAccount) -> bytes:
        return catalog_cache.catalog_json(
            db_session=db,
            cache=cache,
            neighborhood_id=resident.neighborhood_id,
            window_id=window_id,
        )

    body = await as_resident(db, principal, answer, reads_only=True)
    return Response(content=body, media_type="application/json")


@router.get(
    "/group-buys/{group_buy_id}/share",
    response_model=ShareLinkRead,
    tags=["resident"],
    summary="A share link for a group buy of my neighborhood",
)
def read_share_link(
    group_buy_id: GroupBuyId, resident: CurrentResident, db: SessionDep, request: Request
) -> ShareLinkRead:
    """The link neighbors open to see this group buy; 404 for another neighborhood's."""
    gb = groupbuy_service.get_for_resident(
        db_session=db, resident=resident, group_buy_id=group_buy_id
    )
    return resident_catalog.share_link(group_buy=gb, request_base_url=str(request.base_url))


@router.get(
    "/share/{token}",
    response_model=SharedGroupBuyRead,
    tags=["resident"],
    summary="Open a shared group buy (residents of the same neighborhood only)",
    responses={404: {"description": "Unknown token, or a group buy of another neighborhood"}},
)
async def read_shared(
    token: Annotated[str, Path(max_length=64)],
    principal: TokenPrincipal,
    db: SessionDep,
    request: Request,
) -> Response:
    """The shared group buy; a resident of another neighborhood gets 404, as for an unknown one.
    Residents poll it for progress: read-only, in one hop, from the catalog's cache."""
    cache = catalog_cache.cache_of(request.app.state)

    def answer(resident: ResidentAccount) -> bytes:
        return catalog_cache.shared_json(db_session=db, cache=cache, resident=resident, token=token)

    body = await as_resident(db, principal, answer, reads_only=True)
    return Response(content=body, media_type="application/json")


# --- operators -------------------------------------------------------------------------------


@router.post(
    "/group-buys",
    response_model=GroupBuyRead,
    status_code=status.HTTP_201_CREATED,
    tags=["operator"],
    summary="Create a group buy (neighborhood x window x product)",
    responses={409: {"description": "Already exists, or the window is past its cut-off"}},
)
def create_group_buy(
    group_buy_in: GroupBuyCreate, operator: CurrentOperator, db: SessionDep
) -> GroupBuyRead:
    """A group buy with price tiers, a minimum to form and an optional stock cap."""
    gb = groupbuy_service.create(db_session=db, city_id=operator.city_id, group_buy_in=group_buy_in)
    db.commit()
    return _read(db, gb.id, operator.city_id)


@router.get(
    "/group-buys",
    response_model=GroupBuyPage,
    tags=["operator"],
    summary="List group buys, by window, neighborhood or status",
)
def list_group_buys(
    operator: CurrentOperator,
    db: SessionDep,
    window_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    neighborhood_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    status: GroupBuyStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> GroupBuyPage:
    """Group buys of the operator's city."""
    items, total = groupbuy_service.get_all(
        db_session=db,
        city_id=operator.city_id,
        window_id=window_id,
        neighborhood_id=neighborhood_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    city = groupbuy_service.city_of(db_session=db, city_id=operator.city_id)
    return GroupBuyPage(
        items=groupbuy_service.to_reads(db_session=db, group_buys=items, currency=city.currency),
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/group-buys/{group_buy_id}",
    response_model=GroupBuyRead,
    tags=["operator"],
    summary="One group buy",
)
def read_group_buy(
    group_buy_id: GroupBuyId, operator: CurrentOperator, db: SessionDep
) -> GroupBuyRead:
    """A group buy of the operator's city."""
    return _read(db, group_buy_id, operator.city_id)


@router.patch(
    "/group-buys/{group_buy_id}",
    response_model=GroupBuyRead,
    tags=["operator"],
    summary="Change tiers, minimum or stock cap while the group buy is open",
    responses={422: {"description": "E.g. a stock cap below what is already ordered"}},
)
def update_group_buy(
    group_buy_id: GroupBuyId,
    group_buy_in: GroupBuyUpdate,
    operator: CurrentOperator,
    db: SessionDep,
) -> GroupBuyRead:
    """Only the fields given change; `stock_cap: null` removes the cap."""
    gb = groupbuy_service.get_in_city(
        db_session=db, group_buy_id=group_buy_id, city_id=operator.city_id
    )
    groupbuy_service.update(db_session=db, group_buy=gb, group_buy_in=group_buy_in)
    db.commit()
    return _read(db, gb.id, operator.city_id)


@router.delete(
    "/group-buys/{group_buy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["operator"],
    summary="Delete a group buy nobody ordered from",
    responses={409: {"description": "Residents have ordered from it"}},
)
def delete_group_buy(
    group_buy_id: GroupBuyId, operator: CurrentOperator, db: SessionDep
) -> Response:
    """Refused once any order line refers to the group buy."""
    gb = groupbuy_service.get_in_city(
        db_session=db, group_buy_id=group_buy_id, city_id=operator.city_id
    )
    groupbuy_service.delete(db_session=db, group_buy=gb)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/windows/{window_id}/close",
    response_model=CloseSummaryRead,
    tags=["operator"],
    summary="Close a window at its cut-off: group buys form or fail, orders are settled",
    responses={409: {"description": "The cut-off has not passed yet"}},
)
def close_window(
    window_id: WindowId, operator: CurrentOperator, db: SessionDep
) -> CloseSummaryRead:
    """Idempotent and resumable: running it again finishes what is left and changes nothing else."""
    window = window_queries.window_cutoff(db, window_id)
    if window is None or window.city_id != operator.city_id:
        raise WindowNotFound("no such delivery window", field="window_id")
    summary = closing.close_window(db_session=db, window_id=window_id)
    return CloseSummaryRead.model_validate(summary)


def _read(db: Session, group_buy_id: int, city_id: int) -> GroupBuyRead:
    gb = groupbuy_service.get_in_city(db_session=db, group_buy_id=group_buy_id, city_id=city_id)
    city = groupbuy_service.city_of(db_session=db, city_id=city_id)
    return groupbuy_service.to_reads(db_session=db, group_buys=[gb], currency=city.currency)[0]
