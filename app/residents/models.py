"""Residents: phone in E.164, neighborhood, language and SMS consent."""

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow
from app.core.enums import Language


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    neighborhood_id: Mapped[int] = mapped_column(ForeignKey("neighborhoods.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    language: Mapped[Language] = mapped_column(
        Enum(Language, native_enum=False, length=8), default=Language.EN
    )
    sms_consent: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    # Tokens carry the version they were issued under; bumping it revokes them all.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
