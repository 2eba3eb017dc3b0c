"""The database handle: engine, sessions and migrations, shared by web processes and workers."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")
#: Errors that say the database is away for now, not that what was being stored is bad.
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
#: Errors of reading tables that are not there or not ours to read (no migration ran, a wrong URL).
UNREADABLE = (OperationalError, ProgrammingError)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets web processes read while a worker writes; the busy timeout makes writers queue
    # instead of failing with "database is locked". pysqlite's own BEGIN handling is switched off
    # so that _begin_immediate below decides how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection) -> None:
    # A deferred transaction that reads and then writes gets SQLITE_BUSY at once (no waiting)
    # when another connection wrote in between; taking the write lock up front makes concurrent
    # writers (ingestion, scheduler, acks) queue on the busy timeout instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _reader_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is ours to send (see _begin_deferred)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _begin_deferred(connection) -> None:
    # In WAL mode a deferred transaction is a snapshot from its first read on, and takes no lock
    # that would hold up writers.
    connection.exec_driver_sql("BEGIN")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = self._create_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None

    @staticmethod
    def _create_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _begin_immediate)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    @property
    def shown_url(self) -> str:
        """The URL without its password, for progress lines."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session on one consistent snapshot, holding up no writer.

        For reports, the chain check and API reads: every query in it sees the same moment, so an
        event committed meanwhile cannot make two figures disagree (PostgreSQL: REPEATABLE READ,
        READ ONLY; SQLite: a deferred BEGIN on a query-only connection, where ``session()``
        would take the write lock with BEGIN IMMEDIATE).
        """
        if self.is_sqlite:
            session = Session(self._sqlite_reader(), expire_on_commit=False) if self._file_backed else self.sessions()
        else:
            session = Session(self.engine, expire_on_commit=False)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                                  "postgresql_readonly": True})
        try:
            yield session
        finally:
            session.close()  # ends the transaction; unlike rollback() it leaves loaded rows readable

    @property
    def _file_backed(self) -> bool:
        return make_url(self.url).database not in (None, "", ":memory:")

    def _sqlite_reader(self) -> Engine:
        if self._reader is None:
            # NullPool: no connection stays open on the file between reads
            self._reader = create_engine(self.url, poolclass=NullPool,
                                         connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(self._reader, "connect", _reader_pragmas)
            event.listen(self._reader, "begin", _begin_deferred)
        return self._reader

    def upgrade(self) -> None:
        """Apply Alembic migrations up to head (idempotent)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
