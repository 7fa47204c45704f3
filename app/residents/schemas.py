"""What the API reads and shows about residents."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.core.enums import Language
from app.core.limits import SafeName

ID_MAX = 2**31 - 1  # ids are 32-bit integers; larger numbers are refused as input

RESIDENT_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "phone": "+8613812345678",
    "name": "Li Wei",
    "language": "zh",
    "sms_consent": True,
    "neighborhood_id": 7,
    "active": True,
    "created_at": "2026-11-23T08:00:00Z",
}


def phone_field() -> Any:
    """The field for a phone number as clients type it (normalised by the service)."""
    return Field(
        min_length=1,
        max_length=32,
        description="Mobile number in international format; stored in E.164",
        examples=["+8613812345678"],
    )


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null; leave the field out to keep it unchanged")
    return value


class ResidentRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [RESIDENT_EXAMPLE]},
    )

    id: int
    phone: str
    name: str
    language: Language
    sms_consent: bool
    neighborhood_id: int
    active: bool = True
    created_at: datetime


class ResidentCreate(BaseModel):
    """An operator registers a resident (residents register themselves at first login)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+8613812345678",
                    "neighborhood_id": 7,
                    "name": "Li Wei",
                    "language": "zh",
                    "sms_consent": True,
                }
            ]
        },
    )

    phone: str = phone_field()
    neighborhood_id: int = Field(
        gt=0, le=ID_MAX, description="The neighborhood the resident collects in"
    )
    name: SafeName = Field(default="", max_length=120, description="Display name")
    language: Language = Field(default=Language.EN, description="Language of SMS and pages")
    sms_consent: bool = Field(default=True, description="Whether notification SMS may be sent")


class ResidentSelfUpdate(BaseModel):
    """What a resident may change about themselves; neighborhood and phone are not among it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Li Wei", "language": "zh", "sms_consent": False}]
        },
    )

    name: SafeName | None = Field(default=None, max_length=120, description="Display name")
    language: Language | None = Field(default=None, description="en or zh (Simplified Chinese)")
    sms_consent: bool | None = Field(
        default=None, description="Whether notification SMS may be sent"
    )
    neighborhood_id: SkipJsonSchema[Any] = None
    phone: SkipJsonSchema[Any] = None

    _not_null = field_validator("name", "language", "sms_consent")(_refuse_null)

    @field_validator("neighborhood_id")
    @classmethod
    def _neighborhood_fixed(cls, value: Any) -> Any:
        raise ValueError(
            "the neighborhood cannot be changed here; an operator moves residents between "
            "neighborhoods"
        )

    @field_validator("phone")
    @classmethod
    def _phone_fixed(cls, value: Any) -> Any:
        raise ValueError("the phone number cannot be changed; it is how you log in")


class ResidentUpdate(BaseModel):
    """What an operator may change about a resident."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"neighborhood_id": 8}, {"sms_consent": False}]},
    )

    name: SafeName | None = Field(default=None, max_length=120, description="Display name")
    language: Language | None = Field(default=None, description="en or zh (Simplified Chinese)")
    sms_consent: bool | None = Field(
        default=None, description="Whether notification SMS may be sent"
    )
    neighborhood_id: int | None = Field(
        default=None, gt=0, le=ID_MAX, description="Move to this neighborhood"
    )
    active: bool | None = Field(
        default=None, description="false deactivates: no login, and every token is revoked"
    )

    _not_null = field_validator("name", "language", "sms_consent", "neighborhood_id", "active")(
        _refuse_null
    )
