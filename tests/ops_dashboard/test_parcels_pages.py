"""The parcels pages: a window's orders, a resident's orders by phone (masked), parcels by state,
and one parcel's whole chain from the order to its collection, never showing a code or a phone."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.payments import service as payments
from app.residents.models import Resident
from lockers import codes
from lockers.models import CommandStatus, LockerCommand, LockerEvent
from logistics.models import ParcelStatus
from notifications import service as notifications
from notifications.models import MessageStatus
from ops_dashboard import parcels_queries as queries
from tests.factories import Factory
from tests.ops_dashboard.test_parcels_city import cut_city


def test_a_windows_orders_are_paged_with_a_total(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, page_client_for, monkeypatch
) -> None:
    city = cut_city(db, make, orders_per_hood=3)
    monkeypatch.setattr(queries, "PAGE_SIZE", 4)
    window_id = city.world.window.id
    first = queries.window_orders(db, window_id, 1)
    second = queries.window_orders(db, window_id, 2)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (6, 2, 4, 2)
    assert {o.id for o in first.rows + second.rows} == {o.id for o in city.orders}
    assert all(o.units == 3 and len(o.parcels) == 2 for o in first.rows)
    assert queries.window_orders(db, window_id, 1, queries.OrderStatus.CANCELLED).total == 0
    page = page_client_for(city.operator).get(f"/ops/parcels?window_id={window_id}").text
    assert page.count("data-order-id=") == 4 and 'rel="next"' in page and "Page 1 of 2" in page
    newest = next(o for o in city.orders if o.id == first.rows[0].id)
    resident = db.get(Resident, newest.resident_id)
    assert resident is not None and resident.phone not in page
    assert resident.phone[-4:] in page and "****" in page


def test_a_residents_orders_by_phone_show_it_masked(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, page_client_for
) -> None:
    city = cut_city(db, make)
    resident = db.get(Resident, city.orders[0].resident_id)
    assert resident is not None
    client = page_client_for(city.operator)
    typed = f"{resident.phone[:3]} {resident.phone[3:6]}-{resident.phone[6:]}"
    answer = client.get("/ops/parcels", params={"tab": "resident", "phone": typed})
    assert answer.status_code == 200
    assert f'data-order-id="{city.orders[0].id}"' in answer.text
    assert answer.text.count("data-order-id=") == 1
    assert resident.phone not in answer.text
    unknown = client.get("/ops/parcels", params={"tab": "resident", "phone": "+8613900000000"})
    assert unknown.status_code == 200 and "data-order-id" not in unknown.text
    bad = client.get("/ops/parcels", params={"tab": "resident", "phone": "call me"})
    assert bad.status_code == 422 and "phone" in bad.text


def test_parcel_tabs_filter_by_state(db: Session, make: Factory) -> None:
    city = cut_city(db, make)
    now = utcnow()
    soon, later, expired, undelivered, cold = city.parcels[:5]
    soon.status = later.status = ParcelStatus.READY_FOR_PICKUP
    soon.pickup_deadline = now + timedelta(hours=1)
    later.pickup_deadline = now + timedelta(hours=20)
    expired.status = ParcelStatus.EXPIRED
    undelivered.status = ParcelStatus.UNDELIVERED
    undelivered.failure_reason = "bank offline"
    cold.van_minutes_over_limit = 12
    db.flush()
    window_id = city.world.window.id

    def ids(tab: str) -> list[int]:
        return [p.id for p in queries.parcels_in(db, window_id, tab, 1, now).rows]

    assert ids("ready") == [soon.id, later.id]
    assert ids("expiring") == [soon.id]
    assert ids("expired") == [expired.id]
    assert ids("undelivered") == [undelivered.id]
    assert ids("cold") == [cold.id]
    rows = queries.parcels_in(db, window_id, "undelivered", 1, now).rows
    assert rows[0].reason == "bank offline" and rows[0].bank and rows[0].compartment
    counts = queries.tab_counts(db, window_id, now)
    assert (counts["ready"], counts["expiring"], counts["cold"], counts["orders"]) == (2, 1, 1, 4)


def test_the_chain_shows_every_stage_and_no_code_or_phone(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, page_client_for
) -> None:
    city = cut_city(db, make)
    parcel = city.parcels[0]
    order = next(o for o in city.orders if o.id == parcel.order_id)
    resident = db.get(Resident, order.resident_id)
    assert resident is not None
    payments.charge(db_session=db, order=order, amount_minor=3000, key=f"c{order.id}", reason="x")
    payments.refund(db_session=db, order=order, amount_minor=200, key=f"r{order.id}", reason="y")
    now = utcnow()
    command = LockerCommand(
        id="cmd-chain-0001",
        bank_id=parcel.bank_id,
        kind="open_compartment",
        payload={},
        status=CommandStatus.ACKED,
        purpose="deposit",
        parcel_id=parcel.id,
        compartment_id=parcel.compartment_id,
        next_attempt_at=now,
        expires_at=now + timedelta(minutes=5),
        finished_at=now + timedelta(seconds=2),
        attempts=1,
    )
    db.add(command)
    db.add(
        LockerEvent(
            bank_id=parcel.bank_id,
            event_id="evt-chain-collected",
            type="parcel_collected",
            seq=1,
            locker_ts=now + timedelta(hours=1),
            received_at=now + timedelta(hours=1),
            payload={"parcel_id": parcel.id},
        )
    )
    message, _ = notifications.create(
        db_session=db,
        key=f"parcel_ready:{parcel.id}",
        template="parcel_ready",
        resident=resident,
        params={"parcel_id": parcel.id, "order_id": order.id},
    )
    message.status = MessageStatus.DELIVERED
    message.final_at = now
    parcel.status = ParcelStatus.COLLECTED
    db.flush()
    page = page_client_for(city.operator).get(f"/ops/parcels/{parcel.id}")
    assert page.status_code == 200
    html = page.text
    for stage in ("order", "group", "packing", "compartment", "route", "locker", "sms", "money"):
        assert f'data-stage="{stage}"' in html, stage
    assert 'data-stage="end"' in html and "Collected" in html
    assert "open compartment" in html and "parcel collected" in html and "parcel ready" in html
    assert "¥2.00" in html  # the refund
    assert resident.phone not in html
    assert codes.pickup_code(parcel_id=parcel.id, nonce=0) not in html
    whole = page_client_for(city.operator).get(f"/ops/parcels/orders/{order.id}").text
    assert all(f"#{p.id}" in whole for p in city.parcels if p.order_id == order.id)


def test_bad_parcel_input_names_the_field_never_500(  # type: ignore[no-untyped-def]
    page_client_for, operator, other_city_operator, make: Factory, db: Session
) -> None:
    client = page_client_for(operator)
    assert client.get("/ops/parcels").status_code == 200
    for url, field in (
        ("/ops/parcels?tab=everything", "tab"),
        ("/ops/parcels?page=0", "page"),
        ("/ops/parcels?window_id=x", "window_id"),
        ("/ops/parcels?status=lost", "status"),
        ("/ops/parcels/abc", "parcel_id"),
        ("/ops/parcels/orders/abc", "order_id"),
    ):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert field in answer.text, url
    assert client.get("/ops/parcels/999999").status_code == 404
    assert client.get("/ops/parcels/orders/999999").status_code == 404
    foreign = make.window(city=make.city())
    answer = client.get(f"/ops/parcels?window_id={foreign.id}")
    assert answer.status_code == 404 and "window_id" in answer.text
    city = cut_city(db, make)
    theirs = page_client_for(other_city_operator).get(f"/ops/parcels/{city.parcels[0].id}")
    assert theirs.status_code == 404 and "parcel_id" in theirs.text


MY_PAGES = [
    ("GET", "/ops/parcels"),
    ("GET", "/ops/parcels/1"),
    ("GET", "/ops/parcels/orders/1"),
    ("GET", "/ops/messages"),
    ("POST", "/ops/messages/1/resend"),
    ("GET", "/ops/depot"),
    ("GET", "/ops/depot/1/pick-list.csv"),
    ("GET", "/ops/depot/1/packing-list.csv"),
]


def test_only_operators_see_these_pages(page_client_for, make: Factory) -> None:  # type: ignore[no-untyped-def]
    # Beside tests/web/test_every_page_authenticated.py, which finds the app's pages by walking
    # its routes: these views check their own, whatever the router's internals.
    for method, path in MY_PAGES:
        stranger = page_client_for(None).request(method, path)
        assert stranger.status_code == 303, (method, path)
        assert stranger.headers["location"].startswith("/staff/login?next=")
        for user in (make.resident(), make.driver()):
            answer = page_client_for(user).request(method, path)
            assert answer.status_code == 403, (method, path, user)
