"""The signed-in account as a plain value: the owners' reads and the writes on an account."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import bindparam, event, literal, select
from sqlalchemy.orm import Session

from app.core.enums import Language
from app.residents import queries as residents_queries
from app.residents import service as residents_service
from app.staff import queries as staff_queries
from app.staff import service as staff_service
from app.staff.queries import StaffRole
from tests.factories import Factory


@contextmanager
def _writes(db: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            statements.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_resident_account_reads_the_profile_and_a_condition(db: Session, make: Factory) -> None:
    resident = make.resident(name="Li Wei", language=Language.ZH, sms_consent=False)
    account = residents_queries.resident_account(db, resident.id)
    assert account is not None
    assert (account.id, account.phone, account.name, account.neighborhood_id) == (
        resident.id,
        resident.phone,
        "Li Wei",
        resident.neighborhood_id,
    )
    assert (account.language, account.sms_consent, account.active) == (Language.ZH, False, True)
    assert account.token_version == resident.token_version
    assert residents_queries.resident_account(db, resident.id + 10_000) is None
    holds = residents_queries.ResidentAccountCheck(literal(True))
    assert holds(db, resident.id) == (account, True)
    fails = residents_queries.ResidentAccountCheck(literal(False))
    assert fails(db, resident.id) == (account, False)
    assert fails(db, resident.id + 10_000) is None
    named = residents_queries.ResidentAccountCheck(bindparam("name") == literal("Li Wei"))
    assert named(db, resident.id, name="Li Wei") == (account, True)
    assert named(db, resident.id, name="Wang Fang") == (account, False)


def test_update_own_profile_writes_only_changes(db: Session, make: Factory) -> None:
    resident = make.resident(name="Li Wei", language=Language.EN)
    account = residents_queries.resident_account(db, resident.id)
    assert account is not None
    with _writes(db) as unchanged:
        same = residents_service.update_own_profile(
            db_session=db, account=account, name=" Li Wei ", language=Language.EN
        )
    assert same == account and unchanged == []
    with _writes(db) as changed:
        updated = residents_service.update_own_profile(
            db_session=db, account=account, name=" Zhao Lei ", sms_consent=False
        )
    assert len(changed) == 1
    assert (updated.name, updated.sms_consent, updated.language) == ("Zhao Lei", False, Language.EN)
    assert residents_queries.resident_account(db, resident.id) == updated


def test_revoking_a_residents_tokens_moves_the_version_on(db: Session, make: Factory) -> None:
    resident = make.resident()
    before = resident.token_version
    residents_service.revoke_tokens(db_session=db, resident_id=resident.id)
    account = residents_queries.resident_account(db, resident.id)
    assert account is not None and account.token_version == before + 1


def test_staff_account_and_names(db: Session, make: Factory) -> None:
    operator = make.operator(full_name="Wang Fang")
    driver = make.driver(full_name="")
    account = staff_queries.staff_account(db, operator.id)
    assert account is not None
    assert (account.id, account.city_id, account.username, account.full_name) == (
        operator.id,
        operator.city_id,
        operator.username,
        "Wang Fang",
    )
    assert (account.role, account.active) == (StaffRole.OPERATOR, True)
    assert staff_queries.staff_account(db, driver.id + 10_000) is None
    fails = staff_queries.StaffAccountCheck(literal(False))
    assert fails(db, operator.id) == (account, False)
    assert fails(db, driver.id + 10_000) is None
    named = staff_queries.StaffAccountCheck(bindparam("name") == literal("Wang Fang"))
    assert named(db, operator.id, name="Wang Fang") == (account, True)
    assert named(db, operator.id, name="Li Wei") == (account, False)
    names = staff_queries.staff_display_names(db, [operator.id, driver.id, driver.id + 10_000])
    assert names == {operator.id: "Wang Fang", driver.id: driver.username}
    assert staff_queries.staff_display_names(db, []) == {}
    shown = db.execute(
        select(
            staff_queries.staff_display_name_query(literal(driver.id)),
            staff_queries.staff_username_query(literal(operator.id)),
        )
    ).one()
    assert tuple(shown) == (driver.username, operator.username)


def test_staff_update_revokes_on_disable_or_new_password(db: Session, make: Factory) -> None:
    driver = make.driver(full_name="Zhang Min")
    account = staff_queries.staff_account(db, driver.id)
    assert account is not None
    with _writes(db) as unchanged:
        same = staff_service.update(
            db_session=db, account=account, full_name="Zhang Min ", active=True
        )
    assert same == account and unchanged == []
    renamed = staff_service.update(db_session=db, account=account, full_name=" Zhang Wei ")
    assert (renamed.full_name, renamed.token_version) == ("Zhang Wei", account.token_version)
    disabled = staff_service.update(db_session=db, account=renamed, active=False)
    assert (disabled.active, disabled.token_version) == (False, account.token_version + 1)
    new_password = staff_service.update(
        db_session=db, account=disabled, password="a new long passphrase"
    )
    assert new_password.token_version == account.token_version + 2
    assert staff_queries.staff_account(db, driver.id) == new_password
    staff_service.revoke_tokens(db_session=db, staff_id=driver.id)
    again = staff_queries.staff_account(db, driver.id)
    assert again is not None and again.token_version == account.token_version + 3
