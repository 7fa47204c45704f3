"""Lockers: banks online, temperatures, occupancy, the compartment grid, remote actions."""

from fastapi import APIRouter

router = APIRouter()
