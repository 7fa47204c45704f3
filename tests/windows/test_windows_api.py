"""Operator API for delivery windows: generate, list, read in UTC and local time, move."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.windows.models import WindowStatus


def _error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


@pytest.fixture
def city(make, operator):  # type: ignore[no-untyped-def]
    """The operator's own city, with a morning and an evening slot."""
    city = make.default_city()
    make.window_slot(city, name="morning", ready_by_local=time(11), cutoff_hours_before=5)
    make.window_slot(city, name="evening", ready_by_local=time(18), cutoff_hours_before=5)
    return city


def test_generate_is_idempotent_through_the_api(operator_client, city) -> None:  # type: ignore[no-untyped-def]
    start = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    first = operator_client.post("/windows/generate", json={"start": start, "days": 3})
    assert first.status_code == 200, first.text
    assert len(first.json()["created"]) == 6 and first.json()["skipped"] == 0
    again = operator_client.post("/windows/generate", json={"start": start, "days": 3}).json()
    assert again["created"] == [] and again["skipped"] == 6
    listed = operator_client.get("/windows").json()
    assert listed["total"] == 6


def test_generate_defaults_to_today_in_the_city(operator_client, city) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.post("/windows/generate", json={"days": 2}).json()
    today = datetime.now(ZoneInfo(city.timezone)).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    dates = [w["local_date"] for w in response["created"]]
    assert set(dates) <= {today.isoformat(), tomorrow} and dates.count(tomorrow) == 2
    assert len(response["created"]) + response["skipped"] == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [({"days": 0}, "days"), ({"days": 400}, "days"), ({"start": "tomorrow"}, "start")],
)
def test_generate_input_is_validated(operator_client, city, body, field) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/windows/generate", json=body), 422)
    assert error["loc"] == ["body", field]


def test_generate_for_a_city_without_schedule_names_city_id(operator_client) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/windows/generate", json={"days": 1}), 422)
    assert error["loc"] == ["body", "city_id"] and "window-slots" in error["msg"]


def test_window_read_shows_utc_and_local_times(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    city.timezone = "Europe/Berlin"
    window = make.window(
        city,
        local_date=date(2027, 7, 1),
        cutoff_at=datetime(2027, 7, 1, 4, tzinfo=UTC),
        ready_by=datetime(2027, 7, 1, 9, tzinfo=UTC),
        pickup_deadline=datetime(2027, 7, 1, 21, tzinfo=UTC),
    )
    body = operator_client.get(f"/windows/{window.id}").json()
    assert body["timezone"] == "Europe/Berlin"
    assert body["cutoff_at"] == "2027-07-01T04:00:00Z"
    assert body["cutoff_at_local"] == "2027-07-01T06:00:00+02:00"
    assert body["ready_by_local"] == "2027-07-01T11:00:00+02:00"
    assert body["pickup_deadline_local"] == "2027-07-01T23:00:00+02:00"


def test_list_filters_by_date_and_status(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    make.window(make.city(), local_date=date(2027, 5, 5), slot_name="morning")
    day = date(2027, 5, 5)
    open_one = make.window(city, local_date=day, slot_name="morning")
    make.window(city, local_date=day, slot_name="evening", status=WindowStatus.CLOSED)
    make.window(city, local_date=day + timedelta(days=1), slot_name="morning")
    same_day = operator_client.get("/windows", params={"date": day.isoformat()}).json()
    assert same_day["total"] == 2
    open_that_day = operator_client.get(
        "/windows", params={"date": day.isoformat(), "status": "open"}
    ).json()
    assert [w["id"] for w in open_that_day["items"]] == [open_one.id]
    ranged = operator_client.get(
        "/windows",
        params={"date_from": day.isoformat(), "date_to": "2027-05-06"},
    ).json()
    assert ranged["total"] == 3
    assert _error(operator_client.get("/windows", params={"status": "ajar"}), 422)["loc"][-1] == (
        "status"
    )


def test_patch_moves_an_open_window(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    window = make.window(cutoff_in=timedelta(hours=3))
    new_cutoff = window.cutoff_at + timedelta(hours=1)
    response = operator_client.patch(
        f"/windows/{window.id}",
        json={"cutoff_at": new_cutoff.astimezone(timezone(timedelta(hours=8))).isoformat()},
    )
    assert response.status_code == 200, response.text
    assert response.json()["cutoff_at"] == new_cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: {"cutoff_at": w.ready_by + timedelta(minutes=1)}, "cutoff_at"),
        (lambda w: {"ready_by": w.cutoff_at - timedelta(minutes=1)}, "ready_by"),
        (lambda w: {"ready_by": w.pickup_deadline}, "ready_by"),
        (lambda w: {"pickup_deadline": w.ready_by}, "pickup_deadline"),
        (lambda w: {"cutoff_at": datetime.now(UTC) - timedelta(minutes=5)}, "cutoff_at"),
    ],
)
def test_patch_keeps_cutoff_before_ready_before_deadline(
    operator_client, make, change, field
) -> None:  # type: ignore[no-untyped-def]
    window = make.window(cutoff_in=timedelta(hours=3))
    body = {k: v.isoformat() for k, v in change(window).items()}
    error = _error(operator_client.patch(f"/windows/{window.id}", json=body), 422)
    assert error["loc"] == ["body", field]
    unchanged = operator_client.get(f"/windows/{window.id}").json()
    assert unchanged["cutoff_at"] == window.cutoff_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_patch_refuses_naive_times_and_nulls(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    window = make.window()
    naive = operator_client.patch(
        f"/windows/{window.id}", json={"cutoff_at": "2030-01-01T06:00:00"}
    )
    assert _error(naive, 422)["loc"] == ["body", "cutoff_at"]
    null = operator_client.patch(f"/windows/{window.id}", json={"ready_by": None})
    assert _error(null, 422)["loc"] == ["body", "ready_by"]


def test_patch_refuses_a_closed_window(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    window = make.window(status=WindowStatus.CLOSED)
    later = (window.pickup_deadline + timedelta(hours=1)).isoformat()
    error = _error(
        operator_client.patch(f"/windows/{window.id}", json={"pickup_deadline": later}), 409
    )
    assert error["loc"] == ["body", "status"]


def test_patch_refuses_a_window_past_its_cutoff(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    window = make.window(cutoff_in=timedelta(minutes=-1))
    later = (window.cutoff_at + timedelta(hours=1)).isoformat()
    error = _error(operator_client.patch(f"/windows/{window.id}", json={"cutoff_at": later}), 409)
    assert error["loc"] == ["body", "cutoff_at"]


def test_unknown_window_is_404(operator_client) -> None:  # type: ignore[no-untyped-def]
    assert _error(operator_client.get("/windows/987654"), 404)["loc"] == ["path", "window_id"]


def test_another_citys_windows_are_not_found(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    theirs = make.window(make.city())
    assert operator_client.get(f"/windows/{theirs.id}").status_code == 404
    later = (theirs.pickup_deadline + timedelta(hours=1)).isoformat()
    patch = operator_client.patch(f"/windows/{theirs.id}", json={"pickup_deadline": later})
    assert patch.status_code == 404
    assert operator_client.get("/windows").json()["total"] == 0


ENDPOINTS = [
    ("post", "/windows/generate"),
    ("get", "/windows"),
    ("get", "/windows/1"),
    ("patch", "/windows/1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_window_endpoints_are_for_operators(
    resident_client, driver_client, anon_client, method: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {} if method == "get" else {"json": {}}
    assert getattr(anon_client, method)(path, **kwargs).status_code == 401
    assert getattr(resident_client, method)(path, **kwargs).status_code == 403
    assert getattr(driver_client, method)(path, **kwargs).status_code == 403
