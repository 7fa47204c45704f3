"""Every resident page, at `/` and below."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
