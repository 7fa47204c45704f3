"""A stranger cannot lock or starve someone else's login (issue 15, item 1).

Each test here failed on the code before: five wrong codes for a phone locked it for 15 minutes
and spent its hourly budget; five staff passwords did the same to a username; codes went to any
country.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.clock import SimulatedClock, use_clock
from app.core.settings import Settings
from tests.auth.conftest import fresh_address
from tests.factories import STAFF_PASSWORD, Factory

CodeFor = Callable[[str], str]
ClientAt = Callable[[str], TestClient]
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[SimulatedClock]:
    """A paused clock the test moves by hand."""
    sim = SimulatedClock(T0, speed=0)
    with use_clock(sim):
        yield sim


def _sign_in(owner: TestClient, phone: str, code_for: CodeFor) -> int:
    sent = owner.post("/auth/resident/code", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    reply = owner.post("/auth/resident/token", json={"phone": phone, "code": code_for(phone)})
    return reply.status_code


def test_strangers_wrong_codes_without_any_code_issued_do_not_lock_the_owner(
    client_at: ClientAt, make: Factory, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    stranger = client_at(fresh_address())
    for _ in range(5):
        wrong = stranger.post("/auth/resident/token", json={"phone": phone, "code": "123456"})
        assert wrong.status_code == 401
    assert _sign_in(client_at(fresh_address()), phone, code_for) == 200


def test_strangers_wrong_codes_burn_the_owners_code_and_a_fresh_one_signs_in(
    client_at: ClientAt, make: Factory, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    owner, stranger = client_at(fresh_address()), client_at(fresh_address())
    assert owner.post("/auth/resident/code", json={"phone": phone}).status_code == 202
    for _ in range(8):
        stranger.post("/auth/resident/token", json={"phone": phone, "code": "000001"})
    assert _sign_in(owner, phone, code_for) == 200


def test_five_tries_an_hour_forever_never_keep_the_owner_out(
    client_at: ClientAt, make: Factory, code_for: CodeFor, clock: SimulatedClock
) -> None:
    phone = make.resident().phone
    owner, stranger = client_at(fresh_address()), client_at(fresh_address())
    for hour in range(4):
        for _ in range(5):
            stranger.post("/auth/resident/token", json={"phone": phone, "code": "123456"})
            stranger.post("/auth/resident/code", json={"phone": phone})
        assert _sign_in(owner, phone, code_for) == 200, f"owner kept out in hour {hour}"
        clock.advance(timedelta(minutes=50))


def test_the_stranger_is_slowed_down_with_a_growing_retry_after(
    client_at: ClientAt, make: Factory, settings: Settings, clock: SimulatedClock
) -> None:
    phone = make.resident().phone
    stranger = client_at(fresh_address())
    body = {"phone": phone, "code": "123456"}
    for _ in range(settings.login_backoff_free_failures):
        assert stranger.post("/auth/resident/token", json=body).status_code == 401
    waits = []
    for _ in range(3):
        refused = stranger.post("/auth/resident/token", json=body)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(timedelta(seconds=waits[-1]))
        assert stranger.post("/auth/resident/token", json=body).status_code == 401
    assert waits == [2, 4, 8]


def test_resident_page_login_goes_through_the_same_rules(
    client_at: ClientAt, make: Factory, code_for: CodeFor
) -> None:
    phone = make.resident().phone
    origin = {"Origin": "http://testserver"}
    stranger, owner = client_at(fresh_address()), client_at(fresh_address())
    for _ in range(6):
        stranger.post("/login/code", data={"phone": phone, "code": "123456"}, headers=origin)
    assert owner.post("/login", data={"phone": phone}, headers=origin).status_code == 200
    signed_in = owner.post(
        "/login/code",
        data={"phone": phone, "code": code_for(phone)},
        headers=origin,
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert "pickup_session" in signed_in.cookies


def test_staff_strangers_wrong_passwords_back_off_but_the_owner_signs_in(
    client_at: ClientAt, make: Factory, settings: Settings, clock: SimulatedClock
) -> None:
    operator = make.operator()
    stranger = client_at(fresh_address())
    wrong = {"username": operator.username, "password": "not the password"}
    statuses = [stranger.post("/auth/staff/token", json=wrong).status_code for _ in range(8)]
    free = settings.login_backoff_free_failures
    assert statuses[:free] == [401] * free
    assert statuses[free:] == [429] * (8 - free)
    refused = stranger.post("/auth/staff/token", json=wrong)
    assert int(refused.headers["Retry-After"]) == settings.login_backoff_base_seconds
    # The right password from the stranger's address waits too (it is the one failing) ...
    right = {"username": operator.username, "password": STAFF_PASSWORD}
    assert stranger.post("/auth/staff/token", json=right).status_code == 429
    # ... but the owner, from an address that has not been failing, signs in at once.
    assert client_at(fresh_address()).post("/auth/staff/token", json=right).status_code == 200
    # Five tries an hour for hours never keep the owner out either.
    for _ in range(3):
        clock.advance(timedelta(minutes=55))
        for _ in range(5):
            stranger.post("/auth/staff/token", json=wrong)
        owner = client_at(fresh_address())
        assert owner.post("/auth/staff/token", json=right).status_code == 200


def test_staff_username_under_attack_waits_only_for_addresses_that_failed(
    client_at: ClientAt, make: Factory, settings: Settings, clock: SimulatedClock
) -> None:
    driver = make.driver()
    wrong = {"username": driver.username, "password": "not the password"}
    right = {"username": driver.username, "password": STAFF_PASSWORD}
    # Many addresses, one wrong try each: the username's failures grow, no address's do much.
    for _ in range(settings.login_backoff_free_failures + 2):
        assert client_at(fresh_address()).post("/auth/staff/token", json=wrong).status_code == 401
    # An address with one failure of its own now waits the username's (bounded) backoff ...
    mistyped = client_at(fresh_address())
    assert mistyped.post("/auth/staff/token", json=wrong).status_code == 401
    waiting = mistyped.post("/auth/staff/token", json=right)
    assert waiting.status_code == 429
    assert waiting.json()["detail"][0]["loc"] == ["body", "username"]
    retry = int(waiting.headers["Retry-After"])
    assert 0 < retry <= settings.login_backoff_max_seconds
    clock.advance(timedelta(seconds=retry))
    assert mistyped.post("/auth/staff/token", json=right).status_code == 200
    # ... while a clean address never waited.


def test_staff_page_login_goes_through_the_same_rules(client_at: ClientAt, make: Factory) -> None:
    operator = make.operator()
    origin = {"Origin": "http://testserver"}
    stranger = client_at(fresh_address())
    form = {"username": operator.username, "password": "not the password"}
    statuses = [
        stranger.post("/staff/login", data=form, headers=origin).status_code for _ in range(7)
    ]
    assert statuses[-1] == 429
    right = {"username": operator.username, "password": STAFF_PASSWORD}
    owner = client_at(fresh_address())
    signed_in = owner.post("/staff/login", data=right, headers=origin, follow_redirects=False)
    assert signed_in.status_code == 303


def test_codes_are_not_texted_to_countries_not_served(
    anon: TestClient, make: Factory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make.city()  # a city in CN: +86 numbers are served
    us_mobile = "+12015550123"
    refused = anon.post("/auth/resident/code", json={"phone": us_mobile})
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "phone"]
    assert "US" in detail["msg"]
    assert anon.post("/auth/resident/code", json={"phone": "+8613900000001"}).status_code == 202

    monkeypatch.setattr(settings, "auth_sms_allowed_countries", "CN, us")
    assert anon.post("/auth/resident/code", json={"phone": us_mobile}).status_code == 202
    monkeypatch.setattr(settings, "auth_sms_allowed_countries", "HK")
    assert anon.post("/auth/resident/code", json={"phone": "+8613900000002"}).status_code == 422
    monkeypatch.setattr(settings, "auth_sms_allowed_countries", "*")
    assert anon.post("/auth/resident/code", json={"phone": "+447911123456"}).status_code == 202


def test_the_login_page_refuses_a_foreign_number_too(anon: TestClient, make: Factory) -> None:
    make.city()
    reply = anon.post(
        "/login", data={"phone": "+12015550123"}, headers={"Origin": "http://testserver"}
    )
    assert reply.status_code == 422
