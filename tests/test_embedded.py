"""On the embedded defaults the API process also runs the broker, bridge and periodic passes."""

import threading
import time
from datetime import timedelta

from fastapi.testclient import TestClient

from app.embedded import PeriodicPasses, create_app_with_embedded_services


def test_periodic_passes_run_each_pass_and_survive_a_failing_one() -> None:
    ran = threading.Event()

    def boom() -> object:
        raise RuntimeError("a pass failed")

    passes = PeriodicPasses(
        {"boom": (boom, timedelta(seconds=1)), "ok": (lambda: ran.set() or 1, timedelta(seconds=1))}
    ).start()
    try:
        assert ran.wait(5), "the second pass never ran after the first one failed"
    finally:
        passes.stop()


def test_embedded_app_starts_and_stops_its_services(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app import dbtools
    from app.core import db as core_db
    from app.core.settings import get_settings
    from lockers.broker import free_port

    url = f"sqlite:///{tmp_path}/embedded.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MQTT_URL", f"embedded://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    for cached in (get_settings, core_db.get_engine, core_db.get_sessionmaker):
        cached.cache_clear()
    try:
        dbtools.upgrade(url)
        before = {t.name for t in threading.enumerate()}
        with TestClient(create_app_with_embedded_services()) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            started = {t.name for t in threading.enumerate()} - before
            assert "periodic-passes" in started
            assert any(name.startswith("locker-bridge") for name in started)
        time.sleep(0.5)
        assert "periodic-passes" not in {t.name for t in threading.enumerate()}
    finally:
        for cached in (get_settings, core_db.get_engine, core_db.get_sessionmaker):
            cached.cache_clear()
