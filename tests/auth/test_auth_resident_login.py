"""Residents log in with phone + one-time SMS code: issuing, registering, expiry, reuse, and
wrong codes that burn the code, never the phone."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.models import LoginBackoff, LoginCode
from app.core.db import utcnow
from app.core.enums import Language
from app.core.errors import InvalidInput, NotAuthenticated, TooManyRequests
from app.core.security import decode_access_token, hash_code
from app.core.settings import Settings
from app.core.sms import ConsoleOutbox
from app.residents.models import Resident
from tests.auth.conftest import fresh_address, fresh_phone
from tests.factories import Factory

CodeFor = Callable[[str], str]
ADDR = "198.51.100.20"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_registered_resident_logs_in_with_the_code_from_the_sms(
    anon: TestClient, make: Factory, code_for: CodeFor
) -> None:
    resident = make.resident()

    sent = anon.post("/auth/resident/code", json={"phone": resident.phone})
    assert sent.status_code == 202, sent.text
    assert sent.json()["expires_in"] == 300

    reply = anon.post(
        "/auth/resident/token", json={"phone": resident.phone, "code": code_for(resident.phone)}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["created"] is False
    assert body["resident"]["id"] == resident.id
    principal = decode_access_token(body["access_token"])
    assert (principal.subject_id, principal.role) == (resident.id, "resident")

    me = anon.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["phone"] == resident.phone


def test_phone_is_normalised_to_e164(anon: TestClient, make: Factory, code_for: CodeFor) -> None:
    resident = make.resident(phone="+8613912340001")
    assert anon.post("/auth/resident/code", json={"phone": "+86 139-1234-0001"}).status_code == 202
    reply = anon.post(
        "/auth/resident/token",
        json={"phone": "+86 (139) 1234 0001", "code": code_for("+8613912340001")},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["resident"]["id"] == resident.id


def test_answer_does_not_reveal_whether_the_phone_is_registered(
    anon: TestClient, make: Factory, outbox: ConsoleOutbox
) -> None:
    known = make.resident().phone
    unknown = fresh_phone()
    a = anon.post("/auth/resident/code", json={"phone": known})
    b = anon.post("/auth/resident/code", json={"phone": unknown})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert outbox.last_to(known) is not None and outbox.last_to(unknown) is not None


def test_code_sms_is_in_the_residents_language(
    anon: TestClient, make: Factory, outbox: ConsoleOutbox, code_for: CodeFor
) -> None:
    zh = make.resident(language=Language.ZH)
    en = make.resident(language=Language.EN)
    anon.post("/auth/resident/code", json={"phone": zh.phone, "language": "en"})
    anon.post("/auth/resident/code", json={"phone": en.phone})
    zh_sms, en_sms = outbox.last_to(zh.phone), outbox.last_to(en.phone)
    assert zh_sms is not None and en_sms is not None
    assert "验证码" in zh_sms.body and code_for(zh.phone) in zh_sms.body
    assert "login code" in en_sms.body

    newcomer = fresh_phone()
    anon.post("/auth/resident/code", json={"phone": newcomer, "language": "zh"})
    newcomer_sms = outbox.last_to(newcomer)
    assert newcomer_sms is not None and "验证码" in newcomer_sms.body


def test_new_phone_registers_in_a_neighborhood(
    anon: TestClient, make: Factory, db: Session, code_for: CodeFor
) -> None:
    hood = make.neighborhood()
    phone = fresh_phone()
    anon.post("/auth/resident/code", json={"phone": phone})
    code = code_for(phone)

    missing = anon.post("/auth/resident/token", json={"phone": phone, "code": code})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "neighborhood_id"]

    unknown = anon.post(
        "/auth/resident/token", json={"phone": phone, "code": code, "neighborhood_id": 999_999}
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "neighborhood_id"]

    # Neither refusal used up the code nor counted as a wrong code.
    reply = anon.post(
        "/auth/resident/token",
        json={
            "phone": phone,
            "code": code,
            "neighborhood_id": hood.id,
            "name": "Li Wei",
            "language": "zh",
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["created"] is True
    stored = db.get(Resident, body["resident"]["id"])
    assert stored is not None
    assert (stored.phone, stored.neighborhood_id, stored.name, stored.language) == (
        phone,
        hood.id,
        "Li Wei",
        Language.ZH,
    )
    spent = db.scalar(select(LoginCode.failed_attempts).where(LoginCode.phone == phone))
    assert spent == 0


def test_closed_neighborhood_refuses_registration(
    anon: TestClient, make: Factory, code_for: CodeFor
) -> None:
    hood = make.neighborhood(active=False)
    phone = fresh_phone()
    anon.post("/auth/resident/code", json={"phone": phone})
    reply = anon.post(
        "/auth/resident/token",
        json={"phone": phone, "code": code_for(phone), "neighborhood_id": hood.id},
    )
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "neighborhood_id"]


@pytest.mark.parametrize(
    "phone",
    ["13812345678", "+86 21 1234 5678", "not a phone", "+8613", "+999123456789", " "],
    ids=["no-country-code", "landline", "letters", "too-short", "bad-country", "blank"],
)
def test_invalid_phone_is_422_naming_phone(anon: TestClient, phone: str) -> None:
    for path, body in (
        ("/auth/resident/code", {"phone": phone}),
        ("/auth/resident/token", {"phone": phone, "code": "123456"}),
    ):
        reply = anon.post(path, json=body)
        assert reply.status_code == 422, (path, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["body", "phone"]


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "12 456", ""])
def test_malformed_code_is_422_naming_code(anon: TestClient, make: Factory, code: str) -> None:
    reply = anon.post("/auth/resident/token", json={"phone": make.resident().phone, "code": code})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "code"]


def test_code_works_once(anon: TestClient, make: Factory, code_for: CodeFor) -> None:
    phone = make.resident().phone
    anon.post("/auth/resident/code", json={"phone": phone})
    body = {"phone": phone, "code": code_for(phone)}
    assert anon.post("/auth/resident/token", json=body).status_code == 200
    again = anon.post("/auth/resident/token", json=body)
    assert again.status_code == 401
    assert again.json()["detail"][0]["loc"] == ["body", "code"]


def test_new_code_invalidates_the_older_one(
    anon: TestClient, make: Factory, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    anon.post("/auth/resident/code", json={"phone": phone})
    first = code_for(phone)
    anon.post("/auth/resident/code", json={"phone": phone})
    second = code_for(phone)
    if first != second:
        old = anon.post("/auth/resident/token", json={"phone": phone, "code": first})
        assert old.status_code == 401
    assert (
        anon.post("/auth/resident/token", json={"phone": phone, "code": second}).status_code == 200
    )


def test_codes_are_hashed_at_rest(
    anon: TestClient, make: Factory, db: Session, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    anon.post("/auth/resident/code", json={"phone": phone})
    code = code_for(phone)
    rows = db.execute(select(LoginCode.__table__).where(LoginCode.phone == phone)).mappings().all()
    assert len(rows) == 1
    for value in rows[0].values():
        assert code not in str(value)
    assert len(rows[0]["code_hash"]) == 64


def test_code_expires(db: Session, make: Factory) -> None:
    phone = make.resident().phone
    t0 = utcnow()
    issued = auth_service.request_login_code(db_session=db, phone=phone, now=t0)
    assert issued.expires_at == t0 + timedelta(seconds=300)

    with pytest.raises(NotAuthenticated, match="expired"):
        auth_service.login_resident(
            db_session=db,
            client=ADDR,
            phone=phone,
            code=issued.code,
            now=t0 + timedelta(seconds=300),
        )
    login = auth_service.login_resident(
        db_session=db, client=ADDR, phone=phone, code=issued.code, now=t0 + timedelta(seconds=299)
    )
    assert login.resident.phone == phone


def test_wrong_code_is_401_with_attempts_left(anon: TestClient, make: Factory) -> None:
    phone = make.resident().phone
    anon.post("/auth/resident/code", json={"phone": phone})
    reply = anon.post("/auth/resident/token", json={"phone": phone, "code": "000000"})
    # One chance in a million the random code is 000000; then the login succeeds.
    if reply.status_code != 200:
        assert reply.status_code == 401
        detail = reply.json()["detail"][0]
        assert detail["loc"] == ["body", "code"]
        assert detail["ctx"]["attempts_left"] == 4


def test_login_without_any_code_counts_only_against_the_address(
    client_at: Callable[[str], TestClient], make: Factory, db: Session
) -> None:
    phone = make.resident().phone
    address = fresh_address()
    reply = client_at(address).post("/auth/resident/token", json={"phone": phone, "code": "123456"})
    assert reply.status_code == 401
    assert "attempts_left" not in reply.json()["detail"][0].get("ctx", {})
    assert db.scalar(select(LoginCode).where(LoginCode.phone == phone)) is None
    row = db.get(LoginBackoff, f"resident:ip:{address}")
    assert row is not None and row.failures == 1


def test_five_wrong_codes_burn_the_code_and_a_fresh_one_works(
    anon: TestClient, client_at: Callable[[str], TestClient], make: Factory, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    stranger = client_at(fresh_address())
    anon.post("/auth/resident/code", json={"phone": phone})
    right = code_for(phone)
    lefts = []
    for _ in range(5):
        reply = stranger.post("/auth/resident/token", json={"phone": phone, "code": _wrong(right)})
        assert reply.status_code == 401
        lefts.append(reply.json()["detail"][0]["ctx"]["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    burnt = anon.post("/auth/resident/token", json={"phone": phone, "code": right})
    assert burnt.status_code == 401
    assert burnt.json()["detail"][0]["loc"] == ["body", "code"]
    # The phone is not locked: a fresh code is sent and works.
    assert anon.post("/auth/resident/code", json={"phone": phone}).status_code == 202
    fresh = anon.post("/auth/resident/token", json={"phone": phone, "code": code_for(phone)})
    assert fresh.status_code == 200, fresh.text


def test_failures_back_off_per_address_doubling_each_time(
    db: Session, make: Factory, settings: Settings
) -> None:
    phone = make.resident().phone
    t0 = utcnow()
    free, base = settings.login_backoff_free_failures, settings.login_backoff_base_seconds
    for _ in range(free - 1):
        with pytest.raises(NotAuthenticated):
            auth_service.login_resident(db_session=db, client=ADDR, phone=phone, code="1", now=t0)
    waits = []
    at = t0
    for _ in range(4):
        with pytest.raises(NotAuthenticated):
            auth_service.login_resident(db_session=db, client=ADDR, phone=phone, code="1", now=at)
        with pytest.raises(TooManyRequests) as waiting:
            auth_service.login_resident(db_session=db, client=ADDR, phone=phone, code="1", now=at)
        retry = waiting.value.extra["retry_after_seconds"]
        waits.append(retry)
        at += timedelta(seconds=retry)
    assert waits == [base, base * 2, base * 4, base * 8]
    # Another address is not slowed down at all.
    with pytest.raises(NotAuthenticated):
        auth_service.login_resident(
            db_session=db, client="198.51.100.99", phone=phone, code="1", now=at
        )


def test_a_right_code_clears_the_address_failures(db: Session, make: Factory) -> None:
    phone = make.resident().phone
    t0 = utcnow()
    for _ in range(3):
        issued = auth_service.request_login_code(db_session=db, phone=phone, now=t0)
        for _ in range(3):
            with pytest.raises(NotAuthenticated):
                auth_service.login_resident(
                    db_session=db, client=ADDR, phone=phone, code=_wrong(issued.code), now=t0
                )
        auth_service.login_resident(
            db_session=db, client=ADDR, phone=phone, code=issued.code, now=t0
        )
    assert db.get(LoginBackoff, f"resident:ip:{ADDR}") is None


def test_registration_needs_a_valid_neighborhood_at_service_level(
    db: Session, make: Factory
) -> None:
    phone = fresh_phone()
    hood = make.neighborhood()
    issued = auth_service.request_login_code(db_session=db, phone=phone)
    with pytest.raises(InvalidInput) as missing:
        auth_service.login_resident(db_session=db, client=ADDR, phone=phone, code=issued.code)
    assert missing.value.field == "neighborhood_id"
    login = auth_service.login_resident(
        db_session=db, client=ADDR, phone=phone, code=issued.code, neighborhood_id=hood.id
    )
    assert login.created and login.resident.neighborhood_id == hood.id


def test_registered_resident_keeps_their_neighborhood(
    anon: TestClient, make: Factory, code_for: CodeFor
) -> None:
    resident = make.resident()
    other = make.neighborhood()
    anon.post("/auth/resident/code", json={"phone": resident.phone})
    reply = anon.post(
        "/auth/resident/token",
        json={
            "phone": resident.phone,
            "code": code_for(resident.phone),
            "neighborhood_id": other.id,
        },
    )
    assert reply.status_code == 200
    assert reply.json()["resident"]["neighborhood_id"] == resident.neighborhood_id


class _BrokenProvider:
    """An SMS provider that is down (stands in for Twilio failing)."""

    def send(self, *, to: str, body: str) -> str:
        raise ConnectionError(f"provider unreachable while sending {body}")


def test_sms_failure_is_503_naming_phone_and_logs_no_code(
    db: Session, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    issued = auth_service.request_login_code(db_session=db, phone=make.resident().phone)
    with pytest.raises(auth_service.SmsUnavailable) as failed:
        auth_service.send_login_code(issued=issued, sender=_BrokenProvider())
    assert (failed.value.status_code, failed.value.field) == (503, "phone")
    assert caplog.records, "the failure is logged"
    assert issued.code not in caplog.text
    assert issued.code not in repr(issued)


def test_only_the_newest_code_counts_even_if_two_were_issued_at_once(
    db: Session, make: Factory
) -> None:
    phone = make.resident().phone
    t0 = utcnow()
    older = auth_service.request_login_code(db_session=db, phone=phone, now=t0)
    # A second process issued another code at the same time (so neither deleted the other).
    db.add(
        LoginCode(
            phone=phone,
            code_hash=hash_code("654321", purpose=auth_service.CODE_PURPOSE),
            expires_at=t0 + timedelta(minutes=5),
            created_at=t0 + timedelta(milliseconds=1),
        )
    )
    db.flush()
    auth_service.login_resident(db_session=db, client=ADDR, phone=phone, code="654321", now=t0)
    if older.code != "654321":
        with pytest.raises(NotAuthenticated):
            auth_service.login_resident(
                db_session=db, client=ADDR, phone=phone, code=older.code, now=t0
            )
