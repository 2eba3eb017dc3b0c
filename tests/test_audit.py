"""The tamper-evident audit trail: rows changed, deleted, swapped or inserted behind the service's back
with plain SQL are found, through the API, the CLI and the verify function — on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from monitor.auth import create_token
from monitor.cli import main
from monitor.store import audit
from tests.conftest import run_sql
from tests.harness.service import ENGINE_STANDARDS
from tests.test_scheduler import send

T = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
URL = "/api/v1/audit/verify"


@pytest.fixture
def recorded(runtime, client, admin):
    """Five events, a standards version and six alert actions (opened, acknowledged, resolved)."""
    send(runtime, ("s1", "t1", "seated", T, {"staff": "li", "attrs": {"table": 12}}),
         ("s2", "t2", "seated", T + S), ("o1", "t3", "drink_ordered", T, {"attrs": {"order_id": "A"}}))
    runtime.scheduler.step(T + 90 * S)
    runtime.scheduler.step(T + 2 * M + 2 * S)
    breach = client.get("/api/v1/alerts?kind=breach&state=open", headers=admin).json["items"][0]
    assert client.post(f"/api/v1/alerts/{breach['id']}/ack", json={"note": "on my way"}, headers=admin).status_code == 200
    send(runtime, ("g1", "t1", "greeted", T + 3 * M), ("v1", "t3", "drink_served", T + 3 * M, {"attrs": {"order_id": "A"}}))
    return runtime


run = run_sql


def link(engine, kind, ref) -> int:
    return run(engine, "SELECT seq FROM audit_chain WHERE kind = :kind AND ref = :ref", kind=kind, ref=str(ref)).scalar_one()


def refs(engine, kind) -> list[int]:
    return [int(r) for r in run(engine, "SELECT ref FROM audit_chain WHERE kind = :kind ORDER BY seq", kind=kind).scalars()]


def verified(runtime):
    return audit.verify(runtime.db)


def test_a_clean_chain_verifies_and_covers_every_row(recorded, sql):
    result = verified(recorded)
    rows = sum(run(sql, f"SELECT count(*) FROM {table}").scalar_one()
               for table in ("events", "device_status", "standards_versions", "alert_actions"))
    assert result.ok and result.first_broken is None
    assert result.records == rows and rows > 10
    assert {kind: len(refs(sql, kind)) for kind in ("event", "standards_version", "alert_action")} == {
        "event": 5, "standards_version": 1, "alert_action": 6}
    with recorded.db.session() as session:
        assert result.head == audit.head(session)


@pytest.mark.parametrize("index, statement, found", [
    (2, "UPDATE events SET type = 'greeted' WHERE seq = :seq", "changed"),
    (1, "DELETE FROM events WHERE seq = :seq", "deleted"),
])
def test_an_updated_or_deleted_event_is_found(recorded, sql, index, statement, found):
    victim = refs(sql, "event")[index]
    run(sql, statement, seq=victim)
    result = verified(recorded)
    assert not result.ok
    assert result.first_broken == {"seq": link(sql, "event", victim), "kind": "event",
                                   "reason": f"event {victim} was {found}"}


def test_an_updated_timestamp_or_attribute_is_found(recorded, sql):
    first = refs(sql, "event")[0]
    run(sql, "UPDATE events SET received_at = received_at WHERE seq = :seq", seq=first)  # a no-op stays ok
    assert verified(recorded).ok
    run(sql, "UPDATE events SET staff = 'wang' WHERE seq = :seq", seq=first)
    assert verified(recorded).first_broken["reason"] == f"event {first} was changed"


def test_two_events_swapping_time_and_type_are_found(recorded, sql):
    a, b = refs(sql, "event")[:2]
    rows = {r.seq: r for r in run(sql, "SELECT seq, at, type FROM events WHERE seq IN (:a, :b)", a=a, b=b)}
    with sql.begin() as connection:
        for mine, theirs in ((a, b), (b, a)):
            connection.execute(text("UPDATE events SET at = :at, type = :type WHERE seq = :seq"),
                               {"at": rows[theirs].at, "type": rows[theirs].type, "seq": mine})
    result = verified(recorded)
    assert not result.ok
    assert result.first_broken == {"seq": link(sql, "event", a), "kind": "event", "reason": f"event {a} was changed"}


def test_two_alert_actions_swapping_content_are_found(recorded, sql):
    a, b = refs(sql, "alert_action")[1:3]
    columns = "alert_id, action, actor, at, alert"
    rows = {r.seq: r for r in run(sql, f"SELECT seq, {columns} FROM alert_actions WHERE seq IN (:a, :b)", a=a, b=b)}
    assert rows[a].action != rows[b].action or rows[a].alert_id != rows[b].alert_id
    with sql.begin() as connection:
        for mine, theirs in ((a, b), (b, a)):
            other = rows[theirs]
            alert = other.alert if isinstance(other.alert, str) else json.dumps(other.alert)
            connection.execute(text("UPDATE alert_actions SET alert_id = :alert_id, action = :action, actor = :actor, "
                                    "at = :at, alert = :alert WHERE seq = :seq"),
                               {"alert_id": other.alert_id, "action": other.action, "actor": other.actor,
                                "at": other.at, "alert": alert, "seq": mine})
    result = verified(recorded)
    assert not result.ok
    assert result.first_broken == {"seq": link(sql, "alert_action", a), "kind": "alert_action",
                                   "reason": f"alert_action {a} was changed"}


def test_two_events_swapping_their_keys_are_found(recorded, sql):
    a, b = refs(sql, "event")[:2]
    with sql.begin() as connection:  # renumber a → -1, b → a, -1 → b: the rows change places
        connection.execute(text("UPDATE events SET seq = -1 WHERE seq = :a"), {"a": a})
        connection.execute(text("UPDATE events SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        connection.execute(text("UPDATE events SET seq = :b WHERE seq = -1"), {"b": b})
    result = verified(recorded)
    assert result.first_broken == {"seq": link(sql, "event", a), "kind": "event", "reason": f"event {a} was changed"}


@pytest.mark.parametrize("table,kind,columns,values", [
    ("events", "event", "id, case_id, type, at, site, device, staff, attrs, received_at, source",
     "'forged-1', 't1', 'greeted', '2026-11-24 10:00:30', 'bj-01', 'tab', 'li', '{}', '2026-11-24 10:00:31', 'test'"),
    ("alert_actions", "alert_action", "alert_id, action, actor, at, alert",
     "'00000000-0000-0000-0000-000000000000', 'acknowledged', 'someone', '2026-11-24 10:03:00', '{}'"),
    ("standards_versions", "standards_version", "file, version, text, author, created_at, diff",
     "'floor.yaml', 99, 'standards: []', 'intruder', '2026-11-24 10:00:00', ''"),
])
def test_a_row_inserted_behind_the_services_back_is_found(recorded, sql, table, kind, columns, values):
    run(sql, f"INSERT INTO {table} ({columns}) VALUES ({values})")
    key = "id" if table == "standards_versions" else "seq"
    forged = run(sql, f"SELECT max({key}) FROM {table}").scalar_one()
    result = verified(recorded)
    assert not result.ok
    assert result.first_broken == {"seq": None, "kind": kind,
                                   "reason": f"{kind} {forged} is not in the chain (inserted behind the service's back)"}


def test_an_altered_chain_link_is_found(recorded, sql):
    victim = link(sql, "event", refs(sql, "event")[3])
    run(sql, "UPDATE audit_chain SET row_hash = :h WHERE seq = :seq", h="0" * 64, seq=victim)
    result = verified(recorded)
    assert result.first_broken == {"seq": victim, "kind": "event", "reason": "the chain link itself was altered"}


def test_the_chain_keeps_growing_and_stays_valid(recorded):
    before = verified(recorded)
    send(recorded, ("s9", "t9", "seated", T + 10 * M))
    after = verified(recorded)
    assert after.ok and after.records == before.records + 1 and after.head != before.head


# -- the API and the CLI ------------------------------------------------------------------------------
def token(runtime, role):
    with runtime.db.session() as session:
        _, secret = create_token(session, role)
    return {"Authorization": f"Bearer {secret}"}


def test_api_verify_for_auditors_only(recorded, client, admin, sql):
    assert client.get(URL).status_code == 401
    for role in ("device", "manager", "operations"):
        assert client.get(URL, headers=token(recorded, role)).status_code == 403
    body = client.get(URL, headers=token(recorded, "auditor")).json
    assert body == {"ok": True, "records": 12, "head": verified(recorded).head, "first_broken": None}
    victim = refs(sql, "event")[0]
    run(sql, "DELETE FROM events WHERE seq = :seq", seq=victim)
    broken = client.get(URL, headers=admin).json
    assert broken["ok"] is False and broken["records"] == 12
    assert broken["first_broken"] == {"seq": link(sql, "event", victim), "kind": "event",
                                      "reason": f"event {victim} was deleted"}


def test_cli_verify_exits_0_when_intact_and_1_when_broken(recorded, db_url, sql):
    env = {"MONITOR_DATABASE_URL": db_url, "MONITOR_STANDARDS_DIR": str(ENGINE_STANDARDS)}
    runner = CliRunner()
    clean = runner.invoke(main, ["audit", "verify"], env=env)
    head = verified(recorded).head
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.strip() == f"ok: 12 records, head {head}"
    victim = refs(sql, "alert_action")[0]
    run(sql, "UPDATE alert_actions SET actor = 'someone else' WHERE seq = :seq", seq=victim)
    broken = runner.invoke(main, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert broken.stdout.splitlines() == [
        f"broken: 12 records checked, head {head}",
        f"first broken link: link {link(sql, 'alert_action', victim)} (alert_action): alert_action {victim} was changed"]
    as_json = runner.invoke(main, ["audit", "verify", "--json"], env=env)
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["first_broken"]["kind"] == "alert_action"


def test_cli_verify_reports_progress_on_long_chains(runtime, db_url):
    # 5000 links make one progress step of store.audit.verify
    for batch in range(6):
        send(runtime, *[(f"e{batch}-{i}", f"c{batch}-{i}", "left", T) for i in range(1000)], now=T)
    result = CliRunner().invoke(main, ["audit", "verify"], env={"MONITOR_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert "checked 5,000 of 6,001 links" in result.stderr
    assert result.stdout.startswith("ok: 6001 records")


def test_a_cut_tail_verifies_alone_but_not_against_the_head_a_report_named(recorded, client, admin, sql):
    reported = verified(recorded).head  # printed on a report
    last_event = refs(sql, "event")[-1]
    with sql.begin() as connection:  # remove the newest event together with every link from its own onwards
        cut = connection.execute(text("SELECT seq FROM audit_chain WHERE kind = 'event' AND ref = :ref"),
                                 {"ref": str(last_event)}).scalar_one()
        doomed = connection.execute(text("SELECT kind, ref FROM audit_chain WHERE seq >= :cut"), {"cut": cut}).all()
        for kind, ref in doomed:
            table, key = {"event": ("events", "seq"), "alert_action": ("alert_actions", "seq"),
                          "standards_version": ("standards_versions", "id")}[kind]
            connection.execute(text(f"DELETE FROM {table} WHERE {key} = :ref"), {"ref": int(ref)})
        connection.execute(text("DELETE FROM audit_chain WHERE seq >= :cut"), {"cut": cut})
    assert verified(recorded).ok  # a hash chain alone cannot see its own tail go
    against = audit.verify(recorded.db, expect_head=reported)
    assert not against.ok and against.first_broken["kind"] == "chain"
    assert reported in against.first_broken["reason"]
    body = client.get(f"{URL}?head={reported}", headers=admin).json
    assert body["ok"] is False and body["first_broken"]["kind"] == "chain"
    assert client.get(f"{URL}?head=nothex", headers=admin).status_code == 400


def test_a_head_still_in_the_chain_verifies(recorded, client, admin):
    reported = verified(recorded).head
    send(recorded, ("s9", "t9", "seated", T + 10 * M))
    assert audit.verify(recorded.db, expect_head=reported).ok
    assert client.get(f"{URL}?head={reported}", headers=admin).json["ok"] is True


def ingest_during_the_check(monkeypatch, runtime):
    """Ingest an event (its own connection, committed) just after verify has read the whole chain."""
    original = audit._live_digests
    done = []

    def live_digests(*args):
        if not done:
            done.append(True)
            send(runtime, ("late", "t-late", "seated", T + 20 * M))
        return original(*args)

    monkeypatch.setattr(audit, "_live_digests", live_digests)


def test_verify_chain_reads_one_snapshot_so_concurrent_ingestion_is_no_tampering(recorded, monkeypatch):
    ingest_during_the_check(monkeypatch, recorded)
    result = audit.verify(recorded.db)
    assert result.ok, result.first_broken
    assert result.records == 12
    monkeypatch.undo()
    assert verified(recorded).records == 13


def test_the_first_broken_link_is_the_earliest_one(recorded, sql):
    early, late = refs(sql, "event")[0], refs(sql, "event")[-1]
    run(sql, "UPDATE events SET type = 'greeted' WHERE seq = :seq", seq=early)
    run(sql, "UPDATE audit_chain SET row_hash = :h WHERE seq = :seq", h="0" * 64, seq=link(sql, "event", late))
    assert verified(recorded).first_broken["seq"] == link(sql, "event", early)


def test_cli_verify_checks_a_reported_head(recorded, db_url):
    env = {"MONITOR_DATABASE_URL": db_url}
    head = verified(recorded).head
    assert CliRunner().invoke(main, ["audit", "verify", "--head", head], env=env).exit_code == 0
    missing = CliRunner().invoke(main, ["audit", "verify", "--head", "f" * 64], env=env)
    assert missing.exit_code == 1 and "is no longer in the chain" in missing.stdout
    assert CliRunner().invoke(main, ["audit", "verify", "--head", "xyz"], env=env).exit_code == 2


def test_a_broken_chain_is_told_in_the_readers_language_with_the_same_link(recorded, db_url, sql, client, admin):
    env = {"MONITOR_DATABASE_URL": db_url, "MONITOR_STANDARDS_DIR": str(ENGINE_STANDARDS), "LC_ALL": "zh_CN.UTF-8"}
    head = verified(recorded).head
    clean = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert clean.exit_code == 0 and clean.stdout.strip() == f"完整：12 条记录，链头 {head}"
    victim = refs(sql, "event")[0]
    run(sql, "DELETE FROM events WHERE seq = :seq", seq=victim)
    at = link(sql, "event", victim)
    broken = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert broken.stdout.splitlines() == [f"已损坏：已检查 12 条记录，链头 {head}",
                                          f"第一处断裂：第 {at} 条链接（event）：event {victim} 已被删除"]
    chinese = client.get(URL, headers={**admin, "Accept-Language": "zh-CN"}).json["first_broken"]
    assert chinese == {"seq": at, "kind": "event", "reason": f"event {victim} 已被删除"}
    assert client.get(URL, headers=admin).json["first_broken"]["reason"] == f"event {victim} was deleted"
