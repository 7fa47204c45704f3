"""Day board: windows, cut-off countdowns, orders, group buys, the pipeline."""

from fastapi import APIRouter

router = APIRouter()
