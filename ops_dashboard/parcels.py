"""Parcels and orders: lists by state, a resident's orders, one parcel's whole chain."""

from fastapi import APIRouter

router = APIRouter()
