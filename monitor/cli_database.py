"""The one way a command of ``python -m monitor`` opens the database: :func:`with_database`.

Its own module, not ``monitor/cli.py``, because the auditors' commands (``monitor/reports/commands.py``)
use it too and ``cli.py`` registers those: neither has to import the other half-loaded.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Literal

import click

from monitor.config import Config

Command = Callable[..., Any]


class CommandFailed(click.ClickException):
    """Could not run at all (exit 2), as opposed to a broken chain (exit 1)."""

    exit_code = 2


def with_database(command: Command | None = None, *, migrate: bool = True, runtime: bool = False,
                  standards: Literal["stored", "directory"] | None = None) -> Any:
    """For commands (or the part of one) that work on the database, which is always disposed of after.

    ``@with_database`` hands the command ``database``, migrated to the newest schema. With
    ``runtime=True`` it hands the process's :class:`~monitor.runtime.Runtime` instead (``config``,
    ``db``, ``registry``, ``rejudge``; no service started) with the standards versions in force
    loaded when ``standards`` says so: ``"stored"`` as the running service has them, ``"directory"``
    after storing the standards directory's new or changed files as new versions (as a start does).

    ``migrate=False`` reads the database as it is, so an auditor's read-only login suffices; tables
    that cannot be read then fail the command with exit 2 and what to check.
    """
    if standards is not None and not runtime:
        raise ValueError("the standards registry comes with the runtime: say runtime=True")
    if standards == "directory" and not migrate:
        raise ValueError("importing the standards directory writes: it needs migrate=True")

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def opened(*args: Any, **kwargs: Any) -> Any:
            from monitor.store.db import UNREADABLE, Database

            config = Config.load()
            if runtime:
                from monitor.runtime import Runtime  # paho, the broker, notifications: only when asked for

                handed: Any = Runtime(config)
                database = handed.db
            else:
                handed = database = Database(config.database.url)
            try:
                if standards == "directory":
                    handed.prepare()  # migrates, then imports the directory
                else:
                    if migrate:
                        database.upgrade()
                    if standards == "stored":
                        handed.registry.reload()
                return command(handed, *args, **kwargs)
            except UNREADABLE as exc:
                if migrate:
                    raise
                raise CommandFailed(f"cannot read the smartmon tables ({str(exc).splitlines()[0]}); is "
                                    "MONITOR_DATABASE_URL right, and has `python -m monitor db upgrade` run?") from None
            finally:
                database.dispose()

        return opened

    return decorate(command) if command is not None else decorate
