"""Alarms: open alarms on every page, acknowledge with a comment."""

from fastapi import APIRouter

router = APIRouter()
