"""Requests and answers of the login endpoints."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.enums import Language
from app.core.limits import SafeName
from app.residents.schemas import ID_MAX, RESIDENT_EXAMPLE, ResidentRead, phone_field
from app.staff.schemas import STAFF_EXAMPLE, StaffRead, StaffRole


class LoginCodeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "+8613812345678"}]}
    )

    phone: str = phone_field()
    language: Language | None = Field(
        default=None,
        description="Language of the SMS for a number not registered yet (en or zh); a "
        "registered resident gets their own language",
    )


class LoginCodeSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "If this number can receive SMS, a login code is on its way.",
                    "expires_in": 300,
                }
            ]
        }
    )

    detail: str
    expires_in: int = Field(description="Seconds the code stays valid")


class ResidentTokenRequest(BaseModel):
    """The code from the SMS; a number not registered yet also gives its neighborhood."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone": "+8613812345678", "code": "042917"},
                {
                    "phone": "+8613812345678",
                    "code": "042917",
                    "neighborhood_id": 7,
                    "name": "Li Wei",
                    "language": "zh",
                },
            ]
        },
    )

    phone: str = phone_field()
    code: str = Field(pattern=r"^[0-9]{6}$", description="The 6-digit code from the SMS")
    neighborhood_id: int | None = Field(
        default=None,
        gt=0,
        le=ID_MAX,
        description="Required to register a new number; ignored for registered residents",
    )
    name: SafeName | None = Field(default=None, max_length=120, description="Used when registering")
    language: Language | None = Field(default=None, description="Used when registering")


class ResidentToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 43200,
                    "created": False,
                    "resident": RESIDENT_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the token stays valid")
    created: bool = Field(description="Whether this login registered the resident")
    resident: ResidentRead


class StaffLogin(BaseModel):
    """A staff login, as JSON or as an OAuth2 password form (the /docs Authorize button)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "operator", "password": "correct horse battery staple"}]
        }
    )

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=128)


class StaffToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 43200,
                    "role": "operator",
                    "staff": STAFF_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the token stays valid")
    role: StaffRole
    staff: StaffRead
