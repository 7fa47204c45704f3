"""Logins racing each other in separate transactions (as separate API processes would)."""

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth import service as auth_service
from app.auth.models import LoginCode
from app.core.errors import DomainError, NotAuthenticated, TooManyRequests
from app.core.settings import get_settings
from tests.factories import Factory


def _family(exc: DomainError) -> str:
    """The refusal's family (NotAuthenticated, TooManyRequests, ...), whatever its named case."""
    return next(c for c in type(exc).__mro__ if DomainError in c.__bases__).__name__


def _race(committed: sessionmaker[Session], attempts: list[Callable[[Session], None]]) -> list[str]:
    """Run each attempt in its own thread and transaction, all released at once."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(attempt: Callable[[Session], None]) -> None:
        with committed() as session:
            barrier.wait()
            try:
                attempt(session)
                session.commit()
                outcome = "ok"
            except DomainError as exc:
                session.commit()  # as the route does: refusals keep what they counted
                outcome = _family(exc)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def _resident_phone(committed: sessionmaker[Session]) -> str:
    with committed() as session:
        phone = Factory(session).resident().phone
        session.commit()
    return phone


def test_one_code_used_twice_at_once_logs_in_once(committed: sessionmaker[Session]) -> None:
    phone = _resident_phone(committed)
    with committed() as session:
        issued = auth_service.request_login_code(db_session=session, phone=phone)
        session.commit()

    def login(session: Session) -> None:
        auth_service.login_resident(
            db_session=session, phone=phone, code=issued.code, client="198.51.100.1"
        )

    assert _race(committed, [login] * 4) == ["NotAuthenticated"] * 3 + ["ok"]


def test_parallel_wrong_codes_never_get_more_guesses_than_allowed(
    committed: sessionmaker[Session],
) -> None:
    """Ten guesses at once: exactly `max_attempts` are counted against the code, which is then
    burnt; the right code no longer works and a fresh one does."""
    max_attempts = get_settings().login_code_max_attempts
    phone = _resident_phone(committed)
    with committed() as session:
        issued = auth_service.request_login_code(db_session=session, phone=phone)
        session.commit()
    wrong = f"{(int(issued.code) + 1) % 1_000_000:06d}"

    def guess(session: Session) -> None:
        auth_service.login_resident(
            db_session=session, phone=phone, code=wrong, client="198.51.100.2"
        )

    outcomes = _race(committed, [guess] * 10)
    # Backoff from the one address may refuse some guesses unchecked; none gets through.
    assert set(outcomes) <= {"NotAuthenticated", TooManyRequests.__name__}
    with committed() as session:
        spent = session.scalar(select(LoginCode.failed_attempts).where(LoginCode.phone == phone))
        assert spent == max_attempts
        with pytest.raises(NotAuthenticated):
            auth_service.login_resident(
                db_session=session, phone=phone, code=issued.code, client="198.51.100.3"
            )
