"""Service tests: the public neighborhood lookup and a share link's public preview."""

import dataclasses

import pytest
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.groupbuys import share_preview
from app.neighborhoods import lookup
from tests.conftest import World
from tests.factories import Factory


def test_lookup_finds_by_name_or_address_case_blind(db: Session, make: Factory) -> None:
    make.neighborhood(name="Jing'an Garden", address="1 Yan'an Rd")
    make.neighborhood(name="Pudong Riverside", address="8 Garden Lane")
    make.neighborhood(name="Closed Court", active=False)
    hits, total = lookup.lookup(db_session=db, q="garden")
    assert total == 2
    assert {h.name for h in hits} == {"Jing'an Garden", "Pudong Riverside"}
    assert lookup.lookup(db_session=db, q="closed")[1] == 0


def test_lookup_near_me_is_nearest_first_and_paginated(db: Session, make: Factory) -> None:
    far = make.neighborhood(name="Far", lat=31.40, lon=121.60)
    near = make.neighborhood(name="Near", lat=31.2301, lon=121.4701)
    middle = make.neighborhood(name="Middle", lat=31.26, lon=121.50)
    first, total = lookup.lookup(db_session=db, lat=31.23, lon=121.47, limit=2)
    assert total >= 3
    assert [h.id for h in first[:2]] == [near.id, middle.id]
    assert first[0].distance_km is not None and first[0].distance_km < 0.1
    rest, _ = lookup.lookup(db_session=db, lat=31.23, lon=121.47, limit=2, offset=2)
    assert far.id in {h.id for h in rest} or total > 3


def test_lookup_reveals_nothing_private(db: Session, make: Factory) -> None:
    hood = make.neighborhood(name="Quiet Court")
    make.resident(hood)
    hits, _ = lookup.lookup(db_session=db, q="quiet")
    assert {f.name for f in dataclasses.fields(hits[0])} == {"id", "name", "address", "distance_km"}


def test_preview_shows_the_group_card_of_a_token(db: Session, world: World) -> None:
    preview = share_preview.preview(db_session=db, token=world.gb.share_token)
    assert preview.neighborhood_id == world.hood.id
    assert preview.group_buy.id == world.gb.id
    assert preview.group_buy.product.name == world.product.name
    with pytest.raises(NotFound):
        share_preview.preview(db_session=db, token="no-such-token")
