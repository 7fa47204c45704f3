"""Every resident page, at `/` and below: sign-in and sign-up, the window picker, a window's
shop, the basket, sharing, my orders and my account."""

from fastapi import APIRouter

from shop import live, my_orders, share, shopping, signin

router = APIRouter(include_in_schema=False)
for view in (signin, shopping, share, my_orders, live):
    router.include_router(view.router)
