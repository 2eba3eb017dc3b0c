"""``python -m monitor …``: the service's command line. Help texts are ``_l(…)``, output lines
``msg(…)``: both in the terminal's language (``monitor.languages``)."""
from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from monitor import logs
from monitor.core.roles import ROLES
from monitor.cli_database import with_database
from monitor.config import Config
from monitor.core.messages import Message, MessageError, msg
from monitor.languages import _l, terminal_text, use_terminal_language

if TYPE_CHECKING:  # the service's modules load only for the commands that run it: --help stays quick
    from flask import Flask


def say(message: Message, err: bool = False) -> None:
    click.echo(terminal_text(message), err=err)


def _serve(app: Flask, host: str, port: int, before_stop: Callable[[], None] | None = None) -> None:
    """Threaded WSGI server (SSE needs a thread per stream); SIGTERM drains and stops cleanly.
    ``before_stop`` runs while ingestion still runs (the simulator's last events get in)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    runtime = app.extensions["smartmon"]
    stopping = threading.Event()

    def shutdown(signum, _frame) -> None:
        if not stopping.is_set():
            stopping.set()
            say(msg("received signal {signal}; draining and stopping", signal=signum), err=True)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    url = f"http://{host}:{server.server_port}"
    say(msg("smartmon listening on {url}", url=url), err=True)
    try:
        server.serve_forever()
    finally:
        if before_stop is not None:
            before_stop()
        runtime.stop()
        say(msg("smartmon stopped"), err=True)


def web_app() -> Flask:
    """A web process: API and pages; standards reload from the database. It needs no broker:
    workers relay every alert change, acknowledgements made here included, to MQTT."""
    from monitor.app import create_app

    logs.configure()
    app = create_app()
    app.extensions["smartmon"].start_standards_refresh()
    return app


@click.group(help=_l("Run the service, manage the database, standards, tokens and users."))
@click.option("-v", "--verbose", is_flag=True, help=_l("Also log every request and every migration check."))
def main(verbose: bool) -> None:
    logs.configure(verbose=verbose)


@main.command(help=_l("Web UI + API + MQTT ingestion + deadline scheduler in one process."))
@click.option("--host", default=None, help=_l("Address to listen on (default web.host, 127.0.0.1)."))
@click.option("--port", default=None, type=int, help=_l("Port to listen on (default web.port, 8080)."))
def run(host: str | None, port: int | None) -> None:
    from monitor.app import create_app

    app = create_app()
    runtime = app.extensions["smartmon"]
    config = runtime.config
    _first_run_login(runtime, host or config.web.host, port if port is not None else config.web.port)
    runtime.start_processing()
    simulator = _start_simulator(config) if config.simulator.enabled else None
    try:
        _serve(app, host or config.web.host, port if port is not None else config.web.port,
               before_stop=lambda: _stop_simulator(simulator))
    finally:
        _stop_simulator(simulator)


def _first_run_login(runtime, host: str, port: int) -> None:
    """With no way to log in configured, make a one-off admin password so a newcomer can look."""
    import secrets

    from monitor.store import repository

    config = runtime.config
    if config.admin_password or config.admin_token:
        return
    with runtime.db.read_session() as session:
        if repository.user_exists(session):
            return
    password = secrets.token_urlsafe(12)
    config.admin_password = password
    hint = msg("(this run only; set MONITOR_ADMIN_PASSWORD or create users with 'python -m monitor user create')")
    login = f"http://{host}:{port}/login"
    if sys.stderr.isatty():
        say(msg("no login is configured: log in at {url} as 'admin' with password {password} {hint}", url=login,
                password=password, hint=hint), err=True)
        return
    # Not a terminal: standard error is a log, and no secret goes into a log (SPEC §6).
    path = Path("first-login.txt").resolve()
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(password + "\n")
    say(msg("no login is configured: log in at {url} as 'admin' with the password in {path} {hint}", url=login,
            path=path, hint=hint), err=True)


@main.command(help=_l("Web processes only (API, pages) under gunicorn with threaded workers (a thread per SSE "
                      "stream); the same as: gunicorn -k gthread wsgi:app."))
@click.option("--host", default=None, help=_l("Address to listen on (default web.host)."))
@click.option("--port", default=None, type=int, help=_l("Port to listen on (default web.port)."))
@click.option("--workers", default=2, show_default=True, help=_l("Worker processes."))
@click.option("--threads", default=32, show_default=True, help=_l("Threads per worker (each open board holds one)."))
def web(host: str | None, port: int | None, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    config = Config.load()
    _migrate()
    verbose = click.get_current_context().find_root().params.get("verbose", False)
    settings = {"bind": f"{host or config.web.host}:{port if port is not None else config.web.port}",
                "workers": workers, "threads": threads, "worker_class": "gthread", "accesslog": "-" if verbose else None,
                "errorlog": "-", "graceful_timeout": 10}

    class WebServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return web_app()  # in each worker, after the fork: its own database pool and threads

    WebServer().run()


@with_database
def _migrate(_database) -> None:
    """Once in the master, before gunicorn's workers start; closed again before they fork."""


@main.command(help=_l("MQTT ingestion (shared subscription) and deadline scheduling, no HTTP."))
@click.option("--id", "worker_id", default="1", help=_l("Stable id: a restarted worker gets its MQTT session back."))
def worker(worker_id: str) -> None:
    from monitor.runtime import Runtime

    config = Config.load()
    runtime = Runtime(config)
    runtime.prepare()
    runtime.start_processing(client_id=f"smartmon-worker-{worker_id}",
                             shared_group=config.mqtt.shared_group or "smartmon")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    say(msg("worker {id} running", id=worker_id), err=True)
    stop.wait()
    runtime.stop()


def _start_simulator(config: Config):
    """The demo floor (sensors.simulate) as a child process publishing to the same broker."""
    import subprocess

    site = next(iter(config.sites), "demo")
    say(msg("starting the floor simulator for site {site}", site=site), err=True)
    return subprocess.Popen([sys.executable, "-m", "sensors.simulate", "--mqtt-url", config.mqtt.url,
                             "--site", site, "--tables", str(config.simulator.tables),
                             "--speed", str(config.simulator.speed), "--progress-every", "200"])


def _stop_simulator(simulator) -> None:
    """SIGTERM and wait: it closes the cases it opened (sensors/simulate.py) before it exits."""
    import subprocess

    if simulator is None or simulator.poll() is not None:
        return
    simulator.terminate()
    try:
        simulator.wait(timeout=15)
    except subprocess.TimeoutExpired:
        simulator.kill()
        simulator.wait(timeout=5)


@main.group(help=_l("Database schema."))
def db() -> None:
    pass


@db.command("upgrade", help=_l("Apply the database migrations (run, web and worker also do this at start)."))
@with_database
def db_upgrade(database) -> None:
    say(msg("database is at the newest schema"))


@main.command(help=_l("Validate standards files and print static SMART findings; exit 1 on an error or a fail."))
@click.argument("paths", nargs=-1, type=click.Path())
def lint(paths: tuple[str, ...]) -> None:
    from monitor import lint as linter

    sys.exit(linter.main(list(paths) or [Config.load().standards.dir], today=date.today()))


@main.command(help=_l("SMART evaluation of the standards in force on the stored data (all, or one by ID)."))
@click.argument("standard_id", required=False)
@click.option("--days", default=28, show_default=True, help=_l("Evaluation window: the last N days."))
@click.option("--json", "as_json", is_flag=True, help=_l("Print the SPEC §4 JSON instead of a summary."))
@with_database(runtime=True, standards="directory")
def smart(runtime, standard_id: str | None, days: int, as_json: bool) -> None:
    import json
    from datetime import timezone

    from monitor.core.smart import CRITERION_WORDS, STATUS_WORDS, Status
    from monitor.review import default_window, smart_evaluation

    current = runtime.registry.current
    chosen = [current.get(standard_id)] if standard_id else list(current.standards)
    words = terminal_text
    if chosen == [None]:
        raise click.ClickException(words(msg("no standard {id}; in force: {ids}", id=repr(standard_id),
                                              ids=", ".join(s.id for s in current.standards))))
    now = datetime.now(timezone.utc)
    with runtime.db.session() as session:
        for standard in chosen:
            result = smart_evaluation(session, current, standard, default_window(now, days), now.date()).to_json(words)
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False))
                continue
            click.echo(f"{standard.id} (v{standard.version}): {words(STATUS_WORDS[Status(result['grade'])])}")
            for name, criterion in result["criteria"].items():
                click.echo(f"  {words(CRITERION_WORDS[name]):<11} {words(STATUS_WORDS[Status(criterion['status'])])}")
                for finding in criterion["findings"]:
                    click.echo(f"      - {finding}")
            for suggestion in result["suggestions"]:
                click.echo("  " + words(msg("suggestion: {text}", text=suggestion)))


def _instant(_ctx: click.Context, param: click.Parameter, value: str) -> datetime:
    """``--from``/``--to`` of rejudge, read before the database is opened."""
    from monitor.rejudge import RejudgeError, parse_instant

    option = param.opts[0]
    try:
        return parse_instant(option.removeprefix("--"), value)
    except RejudgeError as exc:
        raise click.BadParameter(terminal_text(exc.message), param_hint=option) from None


@main.command(help=_l("Re-judge the clocks of standard ID that started in [FROM, TO) with the version in force now "
                      "(SPEC §3.2): prints how many verdicts change; recorded in the audit trail. FROM and TO are RFC "
                      "3339 timestamps with an offset, or dates (midnight UTC)."))
@click.argument("standard_id")
@click.option("--from", "start", required=True, metavar="DATE|TIMESTAMP", callback=_instant,
              help=_l("First start instant (inclusive)."))
@click.option("--to", "end", required=True, metavar="DATE|TIMESTAMP", callback=_instant,
              help=_l("Start instant the window stops before."))
@click.option("--dry-run", is_flag=True, help=_l("Say how many verdicts would change; change and record nothing."))
@click.option("--json", "as_json", is_flag=True, help=_l("Print the result as JSON."))
@with_database(runtime=True, standards="stored")
def rejudge(runtime, standard_id: str, start: datetime, end: datetime, dry_run: bool, as_json: bool) -> None:
    import getpass
    import json

    from monitor.rejudge import RejudgeError

    try:
        result = runtime.rejudge(standard_id, start, end, f"cli:{getpass.getuser()}", dry_run=dry_run)
    except RejudgeError as exc:
        raise click.ClickException(terminal_text(exc.message)) from None
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    shown = result.to_json()
    words = {"standard": result.standard, "clocks": result.clocks, "start": shown["from"], "end": shown["to"],
             "file": result.file, "version": result.version}
    one = result.changed == 1
    if result.dry_run:
        verdicts = msg("{n} verdict would change", n=1) if one else msg("{n} verdicts would change", n=result.changed)
        say(msg("{standard}: {clocks} clocks started {start} to {end} judged by {file} version {version}: {verdicts} "
                "(dry run: nothing changed)", verdicts=verdicts, **words))
    else:
        verdicts = msg("{n} verdict changed", n=1) if one else msg("{n} verdicts changed", n=result.changed)
        say(msg("{standard}: re-judged {clocks} clocks started {start} to {end} with {file} version {version}: "
                "{verdicts} (re-judgement {id}, in the audit trail)", verdicts=verdicts, id=result.id, **words))


@main.group(help=_l("API tokens (bearer tokens for devices and scripts)."))
def token() -> None:
    pass


@token.command("create", help=_l("Create a token and print its secret once (only its hash is kept)."))
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--site", "sites", multiple=True, help=_l("Limit a device token to these sites (repeatable)."))
@click.option("--name", default="", help=_l("A name to recognise the token by."))
@with_database
def token_create(database, role: str, sites: tuple[str, ...], name: str) -> None:
    from monitor.auth import create_token

    with database.session() as session:
        row, secret = create_token(session, role, sites, name)
        if sites:
            say(msg("token {id} ({role}, sites {sites}) created; the secret is shown once:", id=row.id, role=row.role,
                    sites=",".join(sites)), err=True)
        else:
            say(msg("token {id} ({role}) created; the secret is shown once:", id=row.id, role=row.role), err=True)
    click.echo(secret)


@token.command("list", help=_l("One row per token: id, role, sites, name, created, revoked."))
@with_database
def token_list(database) -> None:
    from monitor.store import repository

    with database.read_session() as session:
        for row in repository.tokens(session):
            revoked = row.revoked_at.isoformat() if row.revoked_at else "-"
            click.echo(f"{row.id}\t{row.role}\t{','.join(row.sites) or '*'}\t{row.name}\t"
                       f"{row.created_at.isoformat()}\t{revoked}")


@token.command("revoke", help=_l("Revoke a token by id; it and the sessions opened with it stop working at once."))
@click.argument("token_id")
@with_database
def token_revoke(database, token_id: str) -> None:
    from monitor.auth import revoke_token

    with database.session() as session:
        if not revoke_token(session, token_id):
            raise click.ClickException(terminal_text(msg("no active token with id {id} (see: python -m monitor token list)",
                                                     id=token_id)))
    say(msg("token {id} revoked", id=token_id))


@main.group(help=_l("Logins for people (web pages)."))
def user() -> None:
    pass


@user.command("create", help=_l("Create a login; the password is asked for, or read from stdin."))
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help=_l("Read the password from standard input."))
@with_database
def user_create(database, name: str, role: str, password_stdin: bool) -> None:
    from monitor.auth import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        _l("Password"), hide_input=True, confirmation_prompt=True)
    try:
        with database.session() as session:
            create_user(session, name, role, password)
    except MessageError as exc:
        raise click.ClickException(terminal_text(exc.message)) from None
    say(msg("user {name} ({role}) created", name=name, role=role))


@user.command("remove", help=_l("Remove a login; its open sessions end at once."))
@click.argument("name")
@with_database
def user_remove(database, name: str) -> None:
    from monitor.auth import remove_user

    with database.session() as session:
        if not remove_user(session, name):
            raise click.ClickException(terminal_text(msg("no user named {name}", name=name)))
    say(msg("user {name} removed; its sessions are ended", name=name))


@main.group(help=_l("MQTT devices (Mosquitto password and ACL files)."))
def devices() -> None:
    pass


@devices.command("provision", help=_l("Add a device: it may publish only under P/SITE/DEVICE/ and read P/SITE/alerts. "
                                      "Prints its password once (last line); its username is SITE.DEVICE. "
                                      "Reload Mosquitto afterwards (SIGHUP)."))
@click.argument("site")
@click.argument("device")
@click.option("--passwd-file", required=True, type=click.Path(dir_okay=False), help=_l("Mosquitto password_file."))
@click.option("--acl-file", required=True, type=click.Path(dir_okay=False), help=_l("Mosquitto acl_file."))
def devices_provision(site: str, device: str, passwd_file: str, acl_file: str) -> None:
    from monitor.devices import provision

    try:
        username, password = provision(site, device, Path(passwd_file), Path(acl_file),
                                       Config.load().mqtt.topic_prefix)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    say(msg("device {name} provisioned in {passwd} and {acl}; reload Mosquitto (SIGHUP). Its password, shown once:",
            name=username, passwd=passwd_file, acl=acl_file), err=True)
    click.echo(password)


def _register_commands() -> None:
    from monitor.reports.commands import audit, report

    main.add_command(report)
    main.add_command(audit)


_register_commands()

if __name__ == "__main__":
    use_terminal_language()
    main()
