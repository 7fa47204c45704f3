"""`POST /lockers/banks/{bank_id}/credentials`: an operator issues (or rotates) a bank's
MQTT credentials for its installer; the password is in this answer only ([S-11.1])."""

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from app.auth.deps import CurrentOperator
from app.core.db import SessionDep
from lockers import banks, provisioning

router = APIRouter(prefix="/lockers", tags=["lockers", "operator"])


class CredentialsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rotate: bool = False


@router.post(
    "/banks/{bank_id}/credentials",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a bank's MQTT credentials once (or rotate them) with its provisioning sheet",
)
def issue_credentials(
    db: SessionDep,
    operator_user: CurrentOperator,
    bank_id: int,
    body: CredentialsRequest | None = None,
) -> provisioning.Provisioned:
    bank = banks.get_bank(db_session=db, bank_id=bank_id)
    sheet = provisioning.provision(
        db_session=db, bank=bank, rotate=body.rotate if body is not None else False
    )
    db.commit()
    return sheet
