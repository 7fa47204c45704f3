"""Pickup codes without a broker: unique among a bank's live parcels, only a slow salted hash
for the locker, issued and pushed once per reservation and moved with the parcel."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers import codes, protocol
from lockers.models import CodeStatus, LockerCommand, PickupCode
from tests.lockers.conftest import World


def test_codes_are_unique_among_a_banks_live_parcels(w: World, db: Session) -> None:
    first, second = w.parcel("A1"), w.parcel("A2")
    # Make `first` hold exactly the code `second` would get at nonce 0: a collision.
    row = codes.ensure_pickup_code(db_session=db, parcel=first)
    clash = codes.pickup_code_hash(parcel_id=second.id, nonce=0)
    row.code_hash = row.live_code_hash = clash
    db.flush()

    issued = codes.ensure_pickup_code(db_session=db, parcel=second)

    assert issued.nonce == 1 and issued.live_code_hash != clash
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=second.id) == (
        codes.pickup_code(parcel_id=second.id, nonce=1)
    )
    # Once the first code is used, its hash no longer blocks anyone.
    codes.retire_code(
        db_session=db, parcel_id=first.id, status=CodeStatus.USED, revoke_at_locker=False
    )
    assert db.get(PickupCode, row.id).live_code_hash is None  # type: ignore[union-attr]


def test_the_locker_gets_a_slow_salted_hash_never_the_code(w: World, db: Session) -> None:
    parcel = w.parcel("A1")
    row = codes.ensure_pickup_code(db_session=db, parcel=parcel)
    command = codes.push_code(db_session=db, parcel=parcel, row=row)
    clear = codes.pickup_code(parcel_id=parcel.id, nonce=row.nonce)

    entry = protocol.CodeEntry.model_validate(command.payload["codes"][0])
    assert clear not in str(command.payload) and clear not in row.locker_hash
    assert entry.iterations == 1000 and len(bytes.fromhex(entry.salt)) == 16
    assert protocol.locker_code_matches(clear, entry)
    assert not protocol.locker_code_matches(f"{(int(clear) + 1) % 10**6:06d}", entry)
    deadline = parcel.pickup_deadline  # sent with milliseconds ([S-4.1])
    assert entry.expires_at == deadline.replace(microsecond=deadline.microsecond // 1000 * 1000)
    assert entry.compartment == "A1"
    assert row.code_hash == codes.pickup_code_hash(parcel_id=parcel.id, nonce=row.nonce)


def test_no_code_before_issue(w: World, db: Session) -> None:
    parcel = w.parcel("A1")
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id) is None


def test_reservations_issue_and_push_codes_once(w: World, db: Session) -> None:
    from app.events import service as event_service
    from lockers import intake

    parcel = w.parcel("A1")
    event_service.emit(
        db_session=db,
        kind="parcel.reserved",
        dedupe_key=f"res-{parcel.id}",
        payload={
            "parcel_id": parcel.id,
            "bank_id": w.bank.id,
            "compartment_id": w.compartments["A1"].id,
        },
    )
    assert intake.consume_reservations(db_session=db) >= 1
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)
    pushes = db.scalars(
        select(LockerCommand).where(
            LockerCommand.parcel_id == parcel.id, LockerCommand.kind == "load_codes"
        )
    ).all()
    assert len(pushes) == 1
    # Reading again, or the deposit preparing the parcel, pushes nothing new.
    assert intake.consume_reservations(db_session=db) == 0
    assert intake.prepare_parcel(db_session=db, parcel_id=parcel.id) is False
    # Moved to another bank: the old bank forgets the code, the new one gets it.
    other = w.make.locker_bank(w.hood)
    moved_to = w.make.compartment(other, label="Z9")
    parcel.bank_id, parcel.compartment_id = other.id, moved_to.id
    db.flush()
    assert intake.prepare_parcel(db_session=db, parcel_id=parcel.id) is True
    kinds = {
        (c.bank_id, c.kind)
        for c in db.scalars(select(LockerCommand).where(LockerCommand.parcel_id == parcel.id))
    }
    assert (w.bank.id, "revoke_code") in kinds and (other.id, "load_codes") in kinds
