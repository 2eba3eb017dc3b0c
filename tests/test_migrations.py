"""Alembic migrations on a database that already holds data, SQLite and PostgreSQL: rows survive, the
schema ends up as the models say."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from monitor.store.db import MIGRATIONS
from monitor.store.models import Base

AT = datetime(2026, 11, 24, 10, tzinfo=timezone.utc).replace(tzinfo=None)


def migrate(engine, revision: str, down: bool = False) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def insert_event(connection, seq: int, event_id: str, site: str) -> None:
    connection.execute(text(
        "INSERT INTO events (seq, id, case_id, type, at, site, device, staff, attrs, received_at, source) "
        "VALUES (:seq, :id, 't1', 'seated', :at, :site, NULL, NULL, '{}', :at, 'test')"),
        {"seq": seq, "id": event_id, "site": site, "at": AT})


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def test_0002_keeps_the_events_and_makes_ids_unique_per_site(engine):
    migrate(engine, "0001")
    with engine.begin() as connection:
        insert_event(connection, 1, "e1", "bj-01")
        insert_event(connection, 2, "e2", "sh-02")
    migrate(engine, "head")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, site FROM events ORDER BY seq")).all() == [
            ("e1", "bj-01"), ("e2", "sh-02")]
        insert_event(connection, 3, "e1", "sh-02")  # the same id at another site: a second event
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_event(connection, 4, "e1", "bj-01")  # the same id at the same site: refused
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM events WHERE seq = 3"))
    migrate(engine, "0001", down=True)  # and back, while no two sites share an id
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 2


def test_the_migrated_schema_is_the_models_schema(engine):
    migrate(engine, "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_0002_chains_the_status_rows_stored_before_it(engine, db_url):
    from monitor.store import audit
    from monitor.store.db import Database

    migrate(engine, "0001")
    with engine.begin() as connection:
        for seq, state in ((1, "offline"), (2, "online")):
            connection.execute(text("INSERT INTO device_status (seq, site, device, state, at, received_at) "
                                    "VALUES (:seq, 'bj-01', 'tab', :state, :at, :at)"),
                               {"seq": seq, "state": state, "at": AT})
    migrate(engine, "head")
    database = Database(db_url)
    try:
        result = audit.verify(database)
    finally:
        database.dispose()
    assert (result.ok, result.records) == (True, 2)


def test_0008_keeps_the_dead_letters_whose_english_reason_is_all_they_have(engine):
    migrate(engine, "0007")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO dead_letters (id, received_at, source, reason, raw) "
                                "VALUES (1, :at, 'mqtt:x', 'empty batch: send at least one event', '[]')"), {"at": AT})
    migrate(engine, "head")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT reason, words FROM dead_letters")).all() == [
            ("empty batch: send at least one event", None)]
    migrate(engine, "0007", down=True)
    with engine.begin() as connection:
        assert connection.execute(text("SELECT reason FROM dead_letters")).scalar_one() == \
            "empty batch: send at least one event"
