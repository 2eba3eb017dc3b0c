"""Explicit re-judgement (SPEC §3.2, §6, §8): the clocks that started in the window — and only those —
are judged by the version in force now; the re-judgement is in the audit chain; a dry run changes
nothing. Through the service function, the API and the CLI, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.auth import create_token
from monitor.cli import main
from monitor.store import audit
from monitor.store.models import AlertRow, ClockRow, Rejudgement
from tests.conftest import FLOOR, M, run_sql, S, send, T
from tests.harness.service import ENGINE_STANDARDS

H = timedelta(hours=1)


@pytest.fixture
def app(installed_app):
    return installed_app


@pytest.fixture
def month(runtime):
    """Four greet clocks missed by 30 s under "within: 2m"; then "within: 3m" is saved (version 2).

    t1 (T) and t2 (T+10m) lie in the window re-judged below, t3 (T+1h) does not; t4 (T+20m)
    breached before it was greeted, so it has a breach alert."""
    for case, seated in (("t1", T), ("t2", T + 10 * M), ("t3", T + H)):
        send(runtime, (f"{case}-s", case, "seated", seated), (f"{case}-g", case, "greeted", seated + 150 * S))
    send(runtime, ("t4-s", "t4", "seated", T + 20 * M), now=T + 20 * M)
    runtime.scheduler.step(T + 22 * M + S)
    send(runtime, ("t4-g", "t4", "greeted", T + 22 * M + 30 * S))
    runtime.registry.save("floor.yaml", FLOOR.replace("within: 2m\n", "within: 3m\n", 1), "ops", now=T + 2 * H)
    return runtime


def clocks(runtime) -> dict[str, tuple[str, int]]:
    with runtime.db.session() as session:
        return {c.case_id: (c.state, c.version) for c in session.scalars(
            select(ClockRow).where(ClockRow.standard_id == "greet"))}


def head(runtime) -> str:
    with runtime.db.session() as session:
        return audit.head(session)


BEFORE = {"t1": ("missed", 1), "t2": ("missed", 1), "t3": ("missed", 1), "t4": ("missed", 1)}
AFTER = {"t1": ("met", 2), "t2": ("met", 2), "t3": ("missed", 1), "t4": ("met", 2)}


def test_a_rejudgement_changes_exactly_the_window_and_is_in_the_chain(month, sql):
    assert clocks(month) == BEFORE
    result = month.rejudge("greet", T, T + 30 * M, "ops-lead", now=T + 3 * H)
    assert (result.clocks, result.changed, result.version, result.file, result.by) == (3, 3, 2, "floor.yaml",
                                                                                     "ops-lead")
    assert clocks(month) == AFTER
    with month.db.session() as session:
        [row] = session.scalars(select(Rejudgement)).all()
        breach = session.scalar(select(AlertRow).where(AlertRow.case_id == "t4", AlertRow.kind == "breach"))
    assert (row.standard_id, row.window_from, row.window_to, row.version, row.actor, row.at, row.changed) == (
        "greet", T, T + 30 * M, 2, "ops-lead", T + 3 * H, 3)
    assert breach.state == "retracted"  # under 3 minutes it was never due
    links = run_sql(sql, "SELECT kind, ref FROM audit_chain ORDER BY seq").all()
    assert links[-1] == ("rejudgement", str(row.id))
    run_sql(sql, "UPDATE rejudgements SET changed = 0")
    assert audit.verify(month.db).first_broken["kind"] == "rejudgement"


def test_a_rejudged_clock_keeps_its_new_version_when_its_case_is_evaluated_again(month):
    month.rejudge("greet", T, T + 30 * M, "ops", now=T + 3 * H)
    send(month, ("t1-g", "t1", "greeted", T + 150 * S), ("t1-o", "t1", "drink_ordered", T + 3 * H, {"attrs": {
        "order_id": "A"}}), now=T + 3 * H + M)
    assert clocks(month)["t1"] == ("met", 2)
    # a later save does not undo it either: the window is judged by version 2 until re-judged again
    month.registry.save("floor.yaml", FLOOR.replace("within: 2m\n", "within: 100s\n", 1), "ops", now=T + 4 * H)
    send(month, ("t1-x", "t1", "left", T + 4 * H + M), now=T + 4 * H + M)
    assert clocks(month)["t1"] == ("met", 2)


def test_a_dry_run_says_what_would_change_and_changes_nothing(month):
    chain = head(month)
    result = month.rejudge("greet", T, T + 30 * M, "ops", dry_run=True, now=T + 3 * H)
    assert (result.id, result.clocks, result.changed, result.dry_run) == (None, 3, 3, True)
    assert clocks(month) == BEFORE and head(month) == chain
    with month.db.session() as session:
        assert session.scalars(select(Rejudgement)).all() == []
        assert session.scalar(select(AlertRow.state).where(AlertRow.case_id == "t4", AlertRow.kind == "breach")) \
            == "resolved"


def test_the_api_rejudges_for_operations_only(month, client, admin):
    with month.db.session() as session:
        _, manager = create_token(session, "manager")
        _, operations = create_token(session, "operations", name="ops-token")
    url = "/api/v1/standards/greet/rejudge"
    window = {"from": "2026-11-24T10:00:00Z", "to": "2026-11-24T18:30:00+08:00"}
    assert client.post(url, json=window, headers={"Authorization": f"Bearer {manager}"}).status_code == 403
    dry = client.post(url, json={**window, "dry_run": True}, headers={"Authorization": f"Bearer {operations}"})
    assert dry.status_code == 200 and (dry.json["changed"], dry.json["id"]) == (3, None)
    assert clocks(month) == BEFORE
    done = client.post(url, json=window, headers={"Authorization": f"Bearer {operations}"})
    assert done.status_code == 200
    body = done.json
    assert (body["standard"], body["version"], body["from"], body["to"], body["by"], body["changed"]) == (
        "greet", 2, "2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z", "token:ops-token", 3)
    assert clocks(month) == AFTER
    assert client.post("/api/v1/standards/nope/rejudge", json=window, headers=admin).status_code == 404
    for bad in ({"from": "soon", "to": "2026-11-25"}, {"from": "2026-11-25", "to": "2026-11-24"}, {"to": "2026-11-25"},
                {**window, "dry_run": "yes"}):
        answer = client.post(url, json=bad, headers=admin)
        assert answer.status_code == 400 and answer.json["error"]["code"] == "bad_request", bad
    assert client.post(url, data="[]", headers={**admin, "Content-Type": "application/json"}).status_code == 400


def test_the_cli_rejudges_and_dry_runs(month, db_url):
    env = {"MONITOR_DATABASE_URL": db_url, "MONITOR_STANDARDS_DIR": str(ENGINE_STANDARDS)}
    args = ["rejudge", "greet", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-24T10:30:00Z"]
    dry = CliRunner().invoke(main, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "3 verdicts would change (dry run: nothing changed)" in dry.stdout
    assert clocks(month) == BEFORE
    done = CliRunner().invoke(main, args, env=env)
    assert done.exit_code == 0, done.output
    assert "re-judged 3 clocks started 2026-11-24T10:00:00Z to 2026-11-24T10:30:00Z with floor.yaml version 2: " \
           "3 verdicts changed" in done.stdout
    assert clocks(month)["t1"] == ("met", 2)
    bad = CliRunner().invoke(main, ["rejudge", "nope", "--from", "2026-11-24", "--to", "2026-11-25"], env=env)
    assert bad.exit_code == 1 and "no standard with id 'nope'" in bad.output
