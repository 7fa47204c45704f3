"""Share a group buy: a link and a QR code for a neighbour's phone; the link's public preview
shows the group card only, and leads to sign-in and then that product."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.core.db import SessionDep
from app.core.settings import get_settings
from app.groupbuys import service as groupbuy_service
from app.groupbuys import share_preview
from app.web.session import PageResident
from shop.order_queries import qr_svg
from shop.pages import render, signed_in_resident

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Token = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def product_path(window_id: int, group_buy_id: int) -> str:
    """Where a group buy's card is in its window's shop."""
    return f"/w/{window_id}#gb-{group_buy_id}"


@router.get("/g/{group_buy_id}/share", response_class=HTMLResponse)
def share_page(
    request: Request, db: SessionDep, resident: PageResident, group_buy_id: Id
) -> HTMLResponse:
    """The link and its QR code for one of the neighborhood's group buys."""
    gb = groupbuy_service.get_for_resident(
        db_session=db, resident=resident, group_buy_id=group_buy_id
    )
    base = get_settings().public_url(str(request.base_url))
    url = f"{base}/s/{gb.share_token}"
    preview = share_preview.preview(db_session=db, token=gb.share_token)
    context = {"url": url, "qr": qr_svg(url, scale=6), "preview": preview}
    return render(request, "share.html", context, resident=resident)


@router.get("/s/{token}", response_model=None)
def share_landing(request: Request, db: SessionDep, token: Token) -> Response:
    """The shared group card; a resident of its neighborhood goes straight to the product, a
    resident of another neighborhood is told it is not theirs, anyone else is asked to sign in."""
    preview = share_preview.preview(db_session=db, token=token)
    resident = signed_in_resident(request, db)
    card = preview.group_buy
    if resident is not None and resident.neighborhood_id == preview.neighborhood_id:
        return RedirectResponse(product_path(card.window_id, card.id), status_code=303)
    if resident is not None:
        return render(request, "share_elsewhere.html", {}, resident=resident, status_code=404)
    context = {"preview": preview, "next": f"/s/{token}"}
    return render(request, "share_landing.html", context)
