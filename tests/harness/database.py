"""Databases from outside the service: a look into its tables, a fresh database for a service run
(emptying a PostgreSQL database), and a throwaway PostgreSQL cluster that a test may stop and start."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tests.harness.processes import HarnessError, free_port, missing_tool, port_open, wait_for

PG_BIN = Path(os.environ.get("SMARTMON_PG_BIN", "/usr/lib/postgresql/15/bin"))
KEPT_DATABASES = ("postgres", "template0", "template1")


class Db:
    """Plain SQL on a service's database (SQLite file or PostgreSQL), no pooled connections, so a
    look never holds a lock or a connection the service needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        args = {"timeout": 30} if self.kind == "sqlite" else {"connect_timeout": 3}
        self.engine = create_engine(url, poolclass=NullPool, connect_args=args)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql), params)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)

    def analyze(self) -> None:
        """PostgreSQL: refresh planner statistics, as autovacuum would in a database that has been
        running a while. On a fresh database the service's prepared statements otherwise keep the
        generic plans made for empty tables (sequential scans) until autovacuum's first ANALYZE."""
        if self.kind == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))

    def dispose(self) -> None:
        self.engine.dispose()


def reset_postgres(url: str, create: bool = False) -> None:
    """Empty the database of ``url`` (its public schema); with ``create``, create it when missing."""
    name = make_url(url).database
    if name in KEPT_DATABASES:
        raise HarnessError(f"refusing to empty database {name!r}: point the URL at a database of its own")
    if create:
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def fresh_database_url(kind: str, directory: Path, name: str, postgres_url: str) -> str:
    """A fresh, empty database of ``kind`` for one service run: a new SQLite file ``name.db`` in
    ``directory``, or the PostgreSQL database of ``postgres_url`` emptied (created when missing)."""
    if kind == "sqlite":
        path = directory / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    reset_postgres(postgres_url, create=True)
    return postgres_url


class PgCluster:
    """A throwaway PostgreSQL cluster of our own, on a free port, that a test may stop and start.

    PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
    ``postgres`` user and every server command goes through ``runuser``. The machine's own
    PostgreSQL (port 5432) is never touched.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="smartmon-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self._as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]

    @staticmethod
    def unavailable_reason() -> str | None:
        if not (PG_BIN / "initdb").exists():
            return f"no PostgreSQL server binaries in {PG_BIN} (set SMARTMON_PG_BIN)"
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root without a 'postgres' user to run PostgreSQL as"
            if shutil.which("runuser") is None:
                return "running as root without runuser"
        return None

    @classmethod
    def started(cls) -> "PgCluster":
        """A new cluster, running; MissingTool when this machine cannot run one."""
        reason = cls.unavailable_reason()
        if reason:
            missing_tool(f"a throwaway PostgreSQL ({reason})", "apt-get install -y postgresql")
        cluster = cls()
        try:
            cluster.init()
            cluster.start()
        except (subprocess.SubprocessError, OSError) as exc:
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-300:]
            cluster.destroy()
            raise HarnessError(f"could not start a throwaway PostgreSQL ({exc}; {detail})") from None
        return cluster

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self._as_user, *args], check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def init(self) -> "PgCluster":
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "--auth=trust", "--username=postgres",
                  "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        # fsync off: these tests stop the server cleanly or kill the *service*, never the machine.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=100")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w",
                  "-t", "30", "start")
        wait_for(lambda: port_open(self.port), message=f"PostgreSQL on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends client sessions at once (an outage), ``immediate`` is a crash."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        wait_for(lambda: not port_open(self.port), message="PostgreSQL to stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
