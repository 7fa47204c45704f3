"""The longer schemathesis run: every operation of the OpenAPI as anonymous, resident, driver and
operator, many seeded examples each (valid and invalid data, then valid data on rows that
exist), in-process on a fresh database; prints a summary and every finding (a 5xx or a
response that breaks its declared schema). CI runs the short form, tests/test_schemathesis.py.

    .venv/bin/python bench/fuzz.py [--examples 25] [--seed 15]

The database is a temporary SQLite file, or a fresh PostgreSQL database when DATABASE_URL
points at PostgreSQL. Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "bench-fuzz-secret-key-that-is-long-enough-1234")

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import dbtools  # noqa: E402
from app.core.db import get_db, make_engine  # noqa: E402
from app.core.security import Principal, create_access_token  # noqa: E402
from app.main import create_app  # noqa: E402
from app.schema import load_all_models  # noqa: E402
from tests.factories import Factory  # noqa: E402
from tests.fuzzing import fuzz, known_ids  # noqa: E402


class _World:
    def __init__(self, make: Factory) -> None:
        self.city = make.default_city()
        self.hood = make.neighborhood()
        self.window = make.window()
        self.product = make.product()
        self.gb = make.group_buy(
            neighborhood=self.hood, window=self.window, product=self.product, min_quantity=10
        )
        self.resident = make.resident(self.hood)


def _database(tmp: Path) -> tuple[str, str | None]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgresql"):
        return f"sqlite:///{tmp / 'fuzz.db'}", None
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"pickup_fuzz_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop(name: str | None) -> None:
    if name is None:
        return
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=25, help="per operation, role and mode")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, pg_name = _database(Path(tmp))
        try:
            load_all_models()
            dbtools.upgrade(url)
            engine = make_engine(url)
            with engine.connect() as connection:
                transaction = connection.begin()
                db = Session(bind=connection, join_transaction_mode="create_savepoint")
                make = Factory(db)
                world = _World(make)
                ids = known_ids(make, world)
                staff = {"driver": make.driver(), "operator": make.operator()}
                tokens: dict[str, str | None] = {
                    "anonymous": None,
                    "resident": create_access_token(
                        Principal(subject_id=world.resident.id, role="resident")
                    ),
                }
                for role, user in staff.items():
                    principal = Principal(subject_id=user.id, role=role)  # type: ignore[arg-type]
                    tokens[role] = create_access_token(principal)
                app = create_app()

                def _session() -> Iterator[Session]:
                    yield db

                app.dependency_overrides[get_db] = _session
                report = fuzz(app, tokens, examples=args.examples, known_ids=ids, seed=args.seed)
                db.close()
                transaction.rollback()
            engine.dispose()
        finally:
            _drop(pg_name)
    backend = "PostgreSQL" if pg_name else "SQLite"
    print(f"schemathesis, {args.examples} examples per operation/role/mode, {backend}:")
    print(report.summary())
    for finding in report.findings:
        print(f"\n{finding.role} {finding.operation} -> {finding.status}\n{finding.message}")
        print(finding.reproduce)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
