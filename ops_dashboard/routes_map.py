"""Routes map: the city as vector graphics, vans, stops, re-plan and re-dispatch."""

from fastapi import APIRouter

router = APIRouter()
