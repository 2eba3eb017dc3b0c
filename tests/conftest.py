"""Shared fixtures: a throwaway Mosquitto per session, databases (SQLite, and PostgreSQL when
MONITOR_TEST_DATABASE_URL is set), the app with the engine test standards, and helpers."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
import time_machine
from sqlalchemy import create_engine, text

from bench.common import free_port, port_open

# Tests never read the developer's config.yaml or MONITOR_* settings by accident.
os.environ["MONITOR_CONFIG"] = os.devnull
for _name in [n for n in os.environ if n.startswith("MONITOR_") and n not in ("MONITOR_CONFIG", "MONITOR_TEST_DATABASE_URL")]:
    del os.environ[_name]

HERE = Path(__file__).parent
ROOT_DIR = HERE.parent
ENGINE_STANDARDS = HERE / "engine_standards"
FLOOR = (ENGINE_STANDARDS / "floor.yaml").read_text(encoding="utf-8")
ADMIN = "test-admin-token"
PG_URL = os.environ.get("MONITOR_TEST_DATABASE_URL")


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.02, message: str = ""):
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)


class Mosquitto:
    """A throwaway broker process that tests may stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {directory}/\nautosave_interval 1\nautosave_on_changes true\n"
            "max_queued_messages 1000000\nmax_inflight_messages 100\nlog_type error\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), message=f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        wait_for(lambda: not port_open(self.port), message="mosquitto to stop")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory) -> Mosquitto:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


DB_PARAMS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=DB_PARAMS)
def db_url(request, tmp_path) -> str:
    """Each storage test runs on SQLite, and on PostgreSQL too when CI provides one."""
    if request.param == "postgresql":
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path}/monitor.db"


def app_config(db_url: str, **extra) -> dict:
    config = {"database": {"url": db_url}, "standards": {"dir": str(ENGINE_STANDARDS)}, "admin_token": ADMIN,
              "mqtt": {"enabled": False}}
    for key, value in extra.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    return config


@pytest.fixture
def app(db_url):
    from monitor.app import create_app

    application = create_app(app_config(db_url))
    yield application
    application.extensions["smartmon"].db.dispose()


#: Before every test's own timeline (2026-11-24…): the install date of ``installed_app``.
INSTALLED = datetime(2026, 11, 1, tzinfo=timezone.utc)
T = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)  # a test's "now", and the units of its timeline
S, M = timedelta(seconds=1), timedelta(minutes=1)


@pytest.fixture
def installed_app(db_url):
    """The app as installed on INSTALLED, before the test's data: version 1 of the standards is in force
    from then on, so a version a test saves at its own instants judges only the clocks that start after
    the save (SPEC §3.2). (``app`` imports at the real now, after the data: version 1 judges it all.)"""
    from monitor.app import create_app

    with time_machine.travel(INSTALLED, tick=True):
        application = create_app(app_config(db_url))
    yield application
    application.extensions["smartmon"].db.dispose()


@pytest.fixture
def sql(db_url):
    """A connection of our own, as someone with database access would have: no service code involved."""
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def run_sql(engine, statement, **params):
    with engine.begin() as connection:
        return connection.execute(text(statement), params)


@pytest.fixture
def runtime(app):
    return app.extensions["smartmon"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin() -> dict:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def broker(mosquitto) -> str:
    """The session broker's URL (tests that stop brokers define their own ``broker``)."""
    return mosquitto.url


@pytest.fixture
def subscriber(broker):
    """Records every message under smartmon/v1/#."""
    from tests.mqtt_helpers import Subscriber

    sub = Subscriber(broker)
    yield sub
    sub.close()


def send(runtime, *events, now=None, site="bj-01"):
    """Ingest (id, case, type, at[, extra fields]) tuples at ``now`` (default: the latest ``at``)."""
    from monitor.ingest import Delivery

    payload = json.dumps([{"id": e[0], "case": e[1], "type": e[2], "at": e[3].isoformat(), **(e[4] if len(e) > 4 else {})}
                          for e in events]).encode()
    outcome = runtime.ingestor.ingest([Delivery(payload, "test", site=site, device="tab")],
                                      now=now or max(e[3] for e in events))[0]
    assert not outcome.rejected, outcome.rejected
