"""Depot: a closed window's pick list and packing list, printable and as CSV."""

from fastapi import APIRouter

router = APIRouter()
