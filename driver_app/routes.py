"""Every page of the drivers' app, under `/driver`."""

from fastapi import APIRouter

router = APIRouter(prefix="/driver", include_in_schema=False)
