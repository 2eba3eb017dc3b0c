"""Shared fixtures: a throwaway Mosquitto per session, databases (SQLite, and PostgreSQL when
MONITOR_TEST_DATABASE_URL is set), the app with the engine test standards, and ``send``.
Real processes (brokers, the service, PostgreSQL clusters) come from ``tests/harness``."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, text

from tests.harness.database import reset_postgres
from tests.harness.mosquitto import Mosquitto
from tests.harness.processes import ADMIN
from tests.harness.service import ENGINE_STANDARDS

# Tests never read the developer's config.yaml or MONITOR_* settings by accident.
os.environ["MONITOR_CONFIG"] = os.devnull
for _name in [n for n in os.environ if n.startswith("MONITOR_") and n not in ("MONITOR_CONFIG", "MONITOR_TEST_DATABASE_URL")]:
    del os.environ[_name]

HERE = Path(__file__).parent
ROOT_DIR = HERE.parent
FLOOR = (ENGINE_STANDARDS / "floor.yaml").read_text(encoding="utf-8")
PG_URL = os.environ.get("MONITOR_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory) -> Mosquitto:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


DB_PARAMS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=DB_PARAMS)
def db_url(request, tmp_path) -> str:
    """Each storage test runs on SQLite, and on PostgreSQL too when CI provides one."""
    if request.param == "postgresql":
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path}/monitor.db"


_COPIES = Path(tempfile.mkdtemp(prefix="smartmon-standards-"))
atexit.register(shutil.rmtree, _COPIES, True)


def standards_copy(source: Path = ENGINE_STANDARDS) -> Path:
    """A private copy of a standards directory: a PUT writes its file into the directory (SPEC §3),
    and the repository's own files must stay as they are."""
    return Path(shutil.copytree(source, tempfile.mkdtemp(dir=_COPIES), dirs_exist_ok=True))


def app_config(db_url: str, **extra) -> dict:
    config = {"database": {"url": db_url}, "standards": {"dir": str(standards_copy())}, "admin_token": ADMIN,
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
