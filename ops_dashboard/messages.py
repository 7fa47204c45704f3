"""Messages: SMS sent, delivered and failed, opt-outs, resend."""

from fastapi import APIRouter

router = APIRouter()
