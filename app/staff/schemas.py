"""What the API reads and shows about operator and driver accounts."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.limits import SafeName
from app.staff.models import StaffRole as StaffRole

STAFF_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "city_id": 1,
    "username": "driver.zhang",
    "full_name": "Zhang Min",
    "role": "driver",
    "active": True,
    "created_at": "2026-11-23T08:00:00Z",
}


class StaffRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [STAFF_EXAMPLE]},
    )

    id: int
    city_id: int
    username: str
    full_name: str
    role: StaffRole
    active: bool
    created_at: datetime


class StaffCreate(BaseModel):
    """A new account in the operator's own city."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "driver.zhang",
                    "password": "a long passphrase here",
                    "role": "driver",
                    "full_name": "Zhang Min",
                }
            ]
        },
    )

    username: SafeName = Field(
        min_length=3, max_length=80, description="Letters, digits, '.', '_', '-'; case-insensitive"
    )
    password: str = Field(min_length=1, max_length=128, description="At least 10 characters")
    role: StaffRole = Field(description="operator or driver")
    full_name: SafeName = Field(default="", max_length=120)


class StaffUpdate(BaseModel):
    """Disable or re-enable an account, rename it, or set a new password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"password": "a new long passphrase"}]},
    )

    full_name: SafeName | None = Field(default=None, max_length=120)
    active: bool | None = Field(default=None, description="false disables the account at once")
    password: str | None = Field(
        default=None, min_length=1, max_length=128, description="At least 10 characters"
    )

    @field_validator("full_name", "active", "password")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it unchanged")
        return value
