"""Compliance reports: counts, percentiles and groupings against a hand-built history, every
format read back, the API's errors, and the CLI — on SQLite and PostgreSQL alike."""
from __future__ import annotations

import csv
import io
import json
import math
import random
from datetime import date, datetime, timedelta, timezone

import openpyxl
import pytest
import time_machine

from monitor.ingest import Delivery
from click.testing import CliRunner
from pypdf import PdfReader

from monitor.auth import create_token
from monitor.cli import main
from monitor.reports.compliance import build_report, site_namer
from monitor.reports.document import ComplianceReport, Site
from monitor.reports.params import ReportParamError, report_query
from monitor.reports.tabular import sheet_title
from monitor.store import audit
from monitor.store.models import ClockRow
from tests.conftest import app_config, HERE
from tests.harness.service import ENGINE_STANDARDS
from tests.test_scheduler import send

S = timedelta(seconds=1)
M = timedelta(minutes=1)
SITES = [{"id": "bj-01", "name": "Beijing Hotel Restaurant", "timezone": "Asia/Shanghai"}]
FIELDS = ("met", "missed", "breached", "cancelled", "data_gap", "compliance", "mean_s", "p50_s", "p90_s", "p95_s",
          "max_s", "goal_met")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def app(db_url):
    from monitor.app import create_app

    with time_machine.travel(utc(2026, 11, 1), tick=True):  # installed before the data: version 1 from 11-01
        application = create_app(app_config(db_url, sites=SITES))
    yield application
    application.extensions["smartmon"].db.dispose()


def greet(runtime, case, seated_at, staff, stop=None, after=None, site="bj-01"):
    """A table seated (by ``staff``) and, optionally, greeted or left ``after`` later."""
    events = [(f"{case}-s", case, "seated", seated_at, {"staff": staff} if staff else {})]
    if stop:
        events.append((f"{case}-{stop}", case, stop, seated_at + after))
    send(runtime, *events, now=max(e[3] for e in events), site=site)


@pytest.fixture
def history(runtime):
    """The greet standard (2 min) at Beijing (UTC+8) and at sh-02 (not declared: UTC).

    case  seated (UTC)        local (site)      staff  outcome
    t1    11-24 17:30         11-25 01:30       li     met 30 s
    t2    11-24 15:00         11-24 23:00       li     missed 150 s
    t3    11-24 16:30         11-25 00:30       wang   met 60 s
    t4    11-25 02:00         11-25 10:00       wang   met 90 s
    t5    11-25 03:00         11-25 11:00       wang   breached (never greeted)
    t6    11-25 04:00         11-25 12:00       li     cancelled (left)
    t7    11-25 05:00         11-25 13:00       li     missed 200 s
    t8    11-25 06:00         11-25 14:00       zhang  missed 180 s, but the tablet was offline at the deadline
    t9    11-25 01:00 (sh-02) 11-25 01:00       li     met 10 s
    """
    greet(runtime, "t2", utc(2026, 11, 24, 15), "li", "greeted", 150 * S)
    greet(runtime, "t3", utc(2026, 11, 24, 16, 30), "wang", "greeted", 60 * S)
    greet(runtime, "t1", utc(2026, 11, 24, 17, 30), "li", "greeted", 30 * S)
    greet(runtime, "t9", utc(2026, 11, 25, 1), "li", "greeted", 10 * S, site="sh-02")
    greet(runtime, "t4", utc(2026, 11, 25, 2), "wang", "greeted", 90 * S)
    greet(runtime, "t5", utc(2026, 11, 25, 3), "wang")
    runtime.scheduler.step(utc(2026, 11, 25, 3, 2, 1))
    greet(runtime, "t6", utc(2026, 11, 25, 4), "li", "left", 60 * S)
    greet(runtime, "t7", utc(2026, 11, 25, 5), "li", "greeted", 200 * S)
    greet(runtime, "t8", utc(2026, 11, 25, 6), "zhang")
    runtime.ingestor.ingest([Delivery(json.dumps({"state": "offline", "at": "2026-11-25T06:01:00Z"}).encode(),
                                     "test", site="bj-01", device="tab", kind="status")], now=utc(2026, 11, 25, 6, 1))
    runtime.scheduler.step(utc(2026, 11, 25, 6, 2, 1))
    send(runtime, ("t8-greeted", "t8", "greeted", utc(2026, 11, 25, 6, 3)), now=utc(2026, 11, 25, 6, 4))
    runtime.ingestor.ingest([Delivery(json.dumps({"state": "online", "at": "2026-11-25T06:05:00Z"}).encode(),
                                     "test", site="bj-01", device="tab", kind="status")], now=utc(2026, 11, 25, 6, 5))
    runtime.scheduler.step(utc(2026, 11, 25, 7))
    return runtime


def report(runtime, *args, **kwargs):
    """The document as the API's JSON answers it."""
    return typed_report(runtime, *args, **kwargs).to_json()


def typed_report(runtime, start="2026-11-24", end="2026-11-26", site=None, standard=None, group_by=None, daily=False):
    query = report_query(start, end, site, standard, group_by)
    return build_report(runtime.db, runtime.registry.current, query, site_namer(runtime.config), daily=daily)


def entry(document, standard="greet"):
    return next(e for e in document["standards"] if e["standard"] == standard)


def figures(row):
    return {k: row[k] for k in FIELDS}


def test_the_history_is_what_the_table_says(history):
    with history.db.session() as session:
        clocks = {c.case_id: c for c in session.query(ClockRow).filter(ClockRow.standard_id == "greet")}
    assert {c: (k.state, k.data_gap) for c, k in clocks.items()} == {
        "t1": ("met", False), "t2": ("missed", False), "t3": ("met", False), "t4": ("met", False),
        "t5": ("breached", False), "t6": ("cancelled", False), "t7": ("missed", False), "t8": ("missed", True),
        "t9": ("met", False)}
    assert clocks["t1"].start_local == "2026-11-25 01:30:00"
    assert clocks["t9"].start_local == "2026-11-25 01:00:00"


def test_one_row_per_standard_with_counts_and_nearest_rank_percentiles(history):
    document = report(history)
    assert [e["standard"] for e in document["standards"]] == ["greet", "drinks", "call-ticket"]
    greet_entry = entry(document)
    assert greet_entry["versions"] == [1] and greet_entry["goal_ratio"] == 0.95
    # stopped, no gap: 10 30 60 90 150 200 → p50 rank ceil(3) = 60, p90 rank ceil(5.4) = 200
    assert greet_entry["rows"] == [{"met": 4, "missed": 2, "breached": 1, "cancelled": 1, "data_gap": 1,
                                    "compliance": 4 / 7, "mean_s": 90.0, "p50_s": 60.0, "p90_s": 200.0,
                                    "p95_s": 200.0, "max_s": 200.0, "goal_met": False}]
    # a standard without clocks still has its one row, with nothing decided
    assert entry(document, "drinks")["rows"] == [{"met": 0, "missed": 0, "breached": 0, "cancelled": 0,
                                                  "data_gap": 0, "compliance": None, "mean_s": None, "p50_s": None,
                                                  "p90_s": None, "p95_s": None, "max_s": None, "goal_met": None}]
    assert document["from"] == "2026-11-24" and document["to"] == "2026-11-26"
    with history.db.session() as session:
        assert document["chain_head"] == audit.head(session)


def test_grouped_by_staff(history):
    rows = entry(report(history, group_by="staff"))["rows"]
    assert [r["staff"] for r in rows] == ["li", "wang", "zhang"]
    li, wang, zhang = rows
    # li: t1 met 30, t2 missed 150, t6 cancelled, t7 missed 200, t9 met 10
    assert figures(li) == {"met": 2, "missed": 2, "breached": 0, "cancelled": 1, "data_gap": 0, "compliance": 0.5,
                           "mean_s": 97.5, "p50_s": 30.0, "p90_s": 200.0, "p95_s": 200.0, "max_s": 200.0,
                           "goal_met": False}
    # wang: t3 met 60, t4 met 90, t5 breached — p50 rank ceil(1) = 60, p90 rank ceil(1.8) = 90
    assert figures(wang) == {"met": 2, "missed": 0, "breached": 1, "cancelled": 0, "data_gap": 0,
                             "compliance": 2 / 3, "mean_s": 75.0, "p50_s": 60.0, "p90_s": 90.0, "p95_s": 90.0,
                             "max_s": 90.0, "goal_met": False}
    # zhang's only clock had a data gap: counted apart, out of compliance and durations
    assert figures(zhang) == {"met": 0, "missed": 0, "breached": 0, "cancelled": 0, "data_gap": 1,
                              "compliance": None, "mean_s": None, "p50_s": None, "p90_s": None, "p95_s": None,
                              "max_s": None, "goal_met": None}


def test_days_are_the_sites_local_days(history):
    rows = entry(report(history, group_by="site,day"))["rows"]
    # t1 and t3 started on 24 November in UTC but after midnight in Beijing
    assert [(r["site"], r["day"], r["met"], r["missed"], r["breached"], r["cancelled"], r["data_gap"]) for r in rows] == [
        ("bj-01", "2026-11-24", 0, 1, 0, 0, 0),
        ("bj-01", "2026-11-25", 3, 1, 1, 1, 1),
        ("sh-02", "2026-11-25", 1, 0, 0, 0, 0),
    ]
    by_day = entry(report(history, group_by="day"))["rows"]
    assert [(r["day"], r["compliance"]) for r in by_day] == [("2026-11-24", 0.0), ("2026-11-25", 4 / 6)]


def test_week_month_and_local_hour_keys(history):
    rows = entry(report(history, site="bj-01", group_by="week,month,hour"))["rows"]
    assert {(r["week"], r["month"]) for r in rows} == {("2026-W48", "2026-11")}
    assert [r["hour"] for r in rows] == [0, 1, 10, 11, 12, 13, 14, 23]
    assert [(r["hour"], r["met"], r["missed"]) for r in rows if r["hour"] in (1, 23)] == [(1, 1, 0), (23, 0, 1)]


def test_date_bounds_are_local_midnights_and_instants_are_exact(history):
    local_day = entry(report(history, "2026-11-25", "2026-11-26"))["rows"][0]
    assert (local_day["met"], local_day["missed"], local_day["breached"]) == (4, 1, 1)  # t2 (local 24th) left out
    # [17:00Z, 04:00Z): t1, t9, t4 met, t5 breached; t6 at 04:00Z exactly is outside
    window = entry(report(history, "2026-11-24T17:00:00Z", "2026-11-25T04:00:00Z"))["rows"][0]
    assert figures(window) == {"met": 3, "missed": 0, "breached": 1, "cancelled": 0, "data_gap": 0,
                                    "compliance": 0.75, "mean_s": round(130 / 3, 3), "p50_s": 30.0, "p90_s": 90.0,
                                    "p95_s": 90.0, "max_s": 90.0, "goal_met": False}
    offset = entry(report(history, "2026-11-25T01:30:00+08:00", "2026-11-25T01:30:01+08:00"))["rows"][0]
    assert offset["met"] == 1  # t1 alone, at the inclusive lower bound


def test_sites_may_repeat_or_be_comma_separated_over_http(history, client, admin):
    for query in ("site=bj-01&site=sh-02", "site=bj-01,sh-02"):
        body = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&standard=greet&{query}", headers=admin).json
        assert [s["id"] for s in body["sites"]] == ["bj-01", "sh-02"] and body["standards"][0]["rows"][0]["met"] == 4
    only = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&standard=greet&site=bj-01", headers=admin).json
    assert only["standards"][0]["rows"][0]["met"] == 3


def test_site_and_standard_filters(history):
    document = report(history, site="sh-02", standard="greet")
    assert [e["standard"] for e in document["standards"]] == ["greet"]
    assert entry(document)["rows"][0]["met"] == 1 and entry(document)["rows"][0]["missed"] == 0
    assert document["sites"] == [{"id": "sh-02", "name": "sh-02", "timezone": "UTC"}]
    every = report(history)
    assert every["sites"] == [{"id": "bj-01", "name": "Beijing Hotel Restaurant", "timezone": "Asia/Shanghai"},
                              {"id": "sh-02", "name": "sh-02", "timezone": "UTC"}]


def test_goal_is_judged_per_goal_period(history):
    periods = entry(report(history))["periods"]
    assert periods == [{"period": "2026-W48", "met": 4, "missed": 2, "breached": 1, "cancelled": 1, "data_gap": 1,
                        "compliance": 4 / 7, "goal_met": False}]


# -- clocks written straight into the table, where the numbers matter more than the story -----------
def put_clocks(runtime, clocks):
    """``clocks``: dicts with standard, start (aware), duration, state, and optional staff, site, gap."""
    now = utc(2026, 1, 1)
    with runtime.db.session() as session:
        for index, c in enumerate(clocks):
            site = c.get("site", "sh-02")
            local = c["start"].astimezone(runtime.config.site_timezone(site))
            session.add(ClockRow(
                standard_id=c.get("standard", "call-ticket"), version=c.get("version", 1), case_id=f"k{index}",
                key="", site=site, staff=c.get("staff"), state=c["state"], start_event_id=f"e{index}",
                start_at=c["start"], start_local=local.strftime("%Y-%m-%d %H:%M:%S"), deadline=None, warn_at=None,
                stop_at=None, cancelled_at=None, paused_since=None, duration_s=c.get("duration"),
                data_gap=c.get("gap", False), next_due_at=None, updated_at=now))


def nearest_rank(values, p):
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered)) - 1]


def test_percentiles_are_nearest_rank_on_both_databases(runtime):
    durations = [5, 7, 7, 12, 15, 20, 21, 30, 33, 41, 47, 50, 55, 61, 70, 82, 90, 95, 120, 600]
    random.Random(5).shuffle(durations)
    start = utc(2026, 3, 2, 9)
    clocks = [{"start": start + i * M, "duration": d, "state": "missed" if d > 90 else "met"}
              for i, d in enumerate(durations)]
    clocks += [{"start": start, "state": "running"}, {"start": start, "state": "paused", "duration": 1},
               {"start": start, "state": "cancelled"}, {"start": start, "state": "breached"},
               {"start": start, "state": "met", "duration": 9999.0, "gap": True}]
    put_clocks(runtime, clocks)
    row = entry(report(runtime, "2026-03-01", "2026-03-05", standard="call-ticket"), "call-ticket")["rows"][0]
    ordered = sorted(durations)
    assert ordered[9] == 41 and ordered[17] == 95 and ordered[18] == 120  # ranks 10, 18, 19
    assert figures(row) == {"met": 17, "missed": 3, "breached": 1, "cancelled": 1, "data_gap": 1,
                            "compliance": 17 / 21, "mean_s": round(sum(durations) / 20, 3), "p50_s": 41.0,
                            "p90_s": 95.0, "p95_s": 120.0, "max_s": 600.0, "goal_met": True}


def test_percentiles_match_python_for_many_random_groups(runtime):
    rng = random.Random(11)
    start = utc(2026, 3, 2, 9)
    expected, clocks = {}, []
    for staff_index in range(12):
        staff = f"s{staff_index:02d}"
        values = [round(rng.uniform(0, 300), 1) for _ in range(rng.randint(1, 37))]
        expected[staff] = values
        clocks += [{"start": start, "duration": v, "state": rng.choice(["met", "missed"]), "staff": staff}
                   for v in values]
    put_clocks(runtime, clocks)
    rows = entry(report(runtime, "2026-03-01", "2026-03-05", group_by="staff"), "call-ticket")["rows"]
    assert [r["staff"] for r in rows] == sorted(expected)
    for row in rows:
        values = expected[row["staff"]]
        assert (row["p50_s"], row["p90_s"], row["p95_s"], row["max_s"]) == (
            nearest_rank(values, 0.5), nearest_rank(values, 0.9), nearest_rank(values, 0.95), max(values))
        assert row["mean_s"] == pytest.approx(sum(values) / len(values), abs=0.001)


def test_goal_periods_judge_each_day_including_the_exact_goal(runtime):
    day = utc(2026, 3, 2, 9)
    put_clocks(runtime, [{"start": day, "state": "met", "duration": 60}] * 4
               + [{"start": day, "state": "missed", "duration": 900}]                 # 4/5 = 0.8 = the goal
               + [{"start": day + timedelta(days=1), "state": "met", "duration": 60}] * 3
               + [{"start": day + timedelta(days=1), "state": "breached"}]            # 3/4 = 0.75
               + [{"start": day + timedelta(days=2), "state": "missed", "duration": 900, "gap": True}])
    periods = entry(report(runtime, "2026-03-01", "2026-03-05"), "call-ticket")["periods"]
    assert [(p["period"], p["compliance"], p["goal_met"]) for p in periods] == [
        ("2026-03-02", 0.8, True), ("2026-03-03", 0.75, False), ("2026-03-04", None, None)]


@pytest.mark.parametrize("first,last", [(date(2026, 12, 20), date(2027, 1, 12)), (date(2020, 12, 24), date(2021, 1, 11)),
                                        (date(2024, 12, 26), date(2025, 1, 7))])
def test_iso_weeks_agree_with_python_across_year_ends(runtime, first, last):
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    put_clocks(runtime, [{"start": datetime.combine(d, datetime.min.time(), timezone.utc) + timedelta(hours=12),
                          "state": "met", "duration": 1} for d in days])
    rows = entry(report(runtime, first.isoformat(), last.isoformat(), group_by="week"), "call-ticket")["rows"]
    expected: dict[str, int] = {}
    for d in days:
        iso = d.isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
        expected[label] = expected.get(label, 0) + 1
    assert {r["week"]: r["met"] for r in rows} == expected


def test_versions_lists_every_version_the_clocks_ran_under(runtime):
    start = utc(2026, 3, 2, 9)
    put_clocks(runtime, [{"start": start, "state": "met", "duration": 1, "version": v} for v in (3, 1, 3, 2)])
    assert entry(report(runtime, "2026-03-01", "2026-03-05"), "call-ticket")["versions"] == [1, 2, 3]


def test_a_withdrawn_standard_with_clocks_is_reported_without_a_goal(runtime):
    put_clocks(runtime, [{"standard": "retired", "start": utc(2026, 3, 2, 9), "state": "met", "duration": 5}])
    document = report(runtime, "2026-03-01", "2026-03-05")
    assert [e["standard"] for e in document["standards"]] == ["greet", "drinks", "call-ticket", "retired"]
    retired = entry(document, "retired")
    assert (retired["name"], retired["goal_ratio"], retired["versions"], retired["periods"]) == (None, None, [1], [])
    assert retired["rows"][0]["compliance"] == 1.0 and retired["rows"][0]["goal_met"] is None
    assert [e["standard"] for e in report(runtime, "2026-03-01", "2026-03-05", standard="retired")["standards"]] == [
        "retired"]


def test_pdf_shows_chinese_site_names():
    from monitor.reports.pdf import to_pdf

    document = ComplianceReport(start="2026-11-01", end="2026-12-01", chain_head="ab" * 32, standards=(),
                                group_by=(), sites=(Site("bj-01", "北京饭店 – 中餐厅", "Asia/Shanghai"),),
                                generated_at="2026-12-01T00:00:00Z")
    title = PdfReader(io.BytesIO(to_pdf(document))).pages[0].extract_text()
    assert "bj-01 — 北京饭店 – 中餐厅 (Asia/Shanghai)" in title


# -- parameters ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,param", [
    (("yesterday", None), "from"), (("2026-11-24T10:00:00", None), "from"), ((None, "2026-02-30"), "to"),
    (("2026-11-25", "2026-11-25"), "to"), (("2026-11-24T10:00:00Z", "2026-11-24T09:00:00Z"), "to"),
])
def test_bad_bounds_name_the_parameter(args, param):
    with pytest.raises(ReportParamError) as caught:
        report_query(*args)
    assert caught.value.param == param


def test_defaults_are_the_last_28_days_and_a_plus_may_arrive_as_a_space():
    query = report_query(today=date(2026, 11, 24))
    assert (query.start, query.end) == (date(2026, 10, 28), date(2026, 11, 25))
    assert report_query("2026-11-25T01:30:00 08:00", "2026-11-26").start == utc(2026, 11, 24, 17, 30)
    with pytest.raises(ReportParamError) as caught:
        report_query(group_by="day,fortnight")
    assert caught.value.param == "group_by"


# -- the API ----------------------------------------------------------------------------------------
def token(runtime, role, sites=()):
    with runtime.db.session() as session:
        _, secret = create_token(session, role, sites)
    return {"Authorization": f"Bearer {secret}"}


URL = "/api/v1/reports/compliance"


def test_only_auditors_and_admins_get_reports(runtime, client, admin):
    assert client.get(URL).status_code == 401
    for role in ("device", "manager", "operations"):
        response = client.get(URL, headers=token(runtime, role))
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.get(URL, headers=token(runtime, "auditor")).status_code == 200
    assert client.get(URL, headers=admin).status_code == 200


@pytest.mark.parametrize("query,param", [
    ("from=last-week", "from"), ("to=2026-13-01", "to"), ("from=2026-11-25&to=2026-11-24", "to"),
    ("group_by=day,shift", "group_by"), ("format=docx", "format"), ("standard=no-such-standard", "standard"),
    ("form=2026-11-01", "form"), ("from=2026-11-24T10:00:00", "from"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, admin, query, param):
    response = client.get(f"{URL}?{query}", headers=admin)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert response.json["error"]["details"] == {"parameter": param}
    assert param in response.json["error"]["message"]


def test_json_over_http_is_the_document(history, client, admin):
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&group_by=staff&standard=greet", headers=admin)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert list(body)[:4] == ["from", "to", "chain_head", "standards"]
    assert [r["staff"] for r in body["standards"][0]["rows"]] == ["li", "wang", "zhang"]
    assert set(body["standards"][0]) >= {"standard", "versions", "goal_ratio", "rows", "periods"}
    assert list(body["standards"][0]["rows"][0]) == ["staff", *FIELDS]


def test_csv_has_a_header_and_one_row_per_standard_and_group(history, client, admin):
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&group_by=site,day&format=csv", headers=admin)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="compliance_2026-11-24_2026-11-26.csv"'
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert list(rows[0]) == ["standard", "versions", "goal_ratio", "site", "day", *FIELDS]
    assert [(r["standard"], r["site"], r["day"], r["met"], r["missed"], r["compliance"]) for r in rows] == [
        ("greet", "bj-01", "2026-11-24", "0", "1", "0.0"),
        ("greet", "bj-01", "2026-11-25", "3", "1", str(3 / 5)),
        ("greet", "sh-02", "2026-11-25", "1", "0", "1.0"),
    ]
    assert rows[1]["versions"] == "1" and rows[1]["goal_ratio"] == "0.95" and rows[1]["goal_met"] == "false"
    assert rows[1]["data_gap"] == "1"


def test_csv_without_grouping_has_one_row_per_standard(history, client, admin):
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&format=csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert [r["standard"] for r in rows] == ["greet", "drinks", "call-ticket"]
    assert rows[0]["p50_s"] == "60.0" and rows[1]["compliance"] == "" and rows[1]["goal_met"] == ""


def test_xlsx_has_a_summary_and_a_sheet_per_standard(history, client, admin):
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&group_by=staff&format=xlsx", headers=admin)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].endswith('filename="compliance_2026-11-24_2026-11-26.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Summary", "greet", "drinks", "call-ticket"]
    summary = [row for row in book["Summary"].iter_rows(values_only=True)]
    facts = {row[0]: row[1] for row in summary if row[0]}
    assert facts["From"] == "2026-11-24" and facts["To (exclusive)"] == "2026-11-26"
    with history.db.session() as session:
        assert facts["Audit chain head"] == audit.head(session)
    header_at = next(i for i, row in enumerate(summary) if row[0] == "Standard")
    greet_line = dict(zip(summary[header_at], summary[header_at + 1]))
    assert (greet_line["Standard"], greet_line["Met"], greet_line["Missed"], greet_line["Data gap"]) == ("greet", 4, 2, 1)
    assert greet_line["Compliance"] == pytest.approx(4 / 7) and greet_line["Goal periods met"] == "0 of 1"
    sheet = [row for row in book["greet"].iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(sheet) if row[0] == "Staff")
    table = [dict(zip(sheet[header_at], row)) for row in sheet[header_at + 1:header_at + 4]]
    assert [(r["Staff"], r["Met"], r["Missed"], r["Breached (open)"], r["p50 (s)"]) for r in table] == [
        ("li", 2, 2, 0, 30), ("wang", 2, 0, 1, 60), ("zhang", 0, 0, 0, None)]
    assert book["greet"].cell(row=header_at + 2, column=7).number_format == "0.0%"


def test_xlsx_sheet_names_are_short_clean_and_unique(db_url):
    from monitor.app import create_app

    application = create_app(app_config(db_url, standards={"dir": str(HERE / "report_fixtures")}))
    try:
        client = application.test_client()
        response = client.get(f"{URL}?format=xlsx", headers={"Authorization": "Bearer test-admin-token"})
        book = openpyxl.load_workbook(io.BytesIO(response.data))
    finally:
        application.extensions["smartmon"].db.dispose()
    assert book.sheetnames == ["Summary", "answer-every-written-complaint-", "answer-every-written-complain~2"]
    taken = {"summary"}
    assert [sheet_title(n, taken) for n in ("a/b:c", "Summary", "'quoted'", "")] == ["a_b_c", "Summary~2", "quoted",
                                                                                     "standard"]


def test_pdf_names_period_sites_versions_and_chain_head(history, client, admin):
    # greet changes mid-period: clocks ran under versions 1 and 2, version 2 is in force
    text = (ENGINE_STANDARDS / "floor.yaml").read_text(encoding="utf-8")
    history.registry.save("floor.yaml", text.replace("within: 2m", "within: 3m", 1), "auditor-test",
                          now=utc(2026, 11, 25, 7, 30))
    greet(history, "t10", utc(2026, 11, 25, 8), "li", "greeted", 150 * S)
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&group_by=day&format=pdf", headers=admin)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="compliance_2026-11-24_2026-11-26.pdf"'
    reader = PdfReader(io.BytesIO(response.data))
    title = reader.pages[0].extract_text()
    text = "\n".join(page.extract_text() for page in reader.pages)
    with history.db.session() as session:
        head = audit.head(session)
    assert "Period: 2026-11-24 to 2026-11-26" in title
    assert "bj-01" in title and "Beijing Hotel Restaurant" in title and "Asia/Shanghai" in title and "sh-02" in title
    assert head in title
    # standards table: id, name, file, version in force, versions in the clocks, goal
    assert "greet\nGreet seated guests\nfloor.yaml\n2\n1, 2\n95.0% per week" in title
    assert "drinks\nServe ordered drinks\nfloor.yaml\n2\n–" in title
    assert "call-ticket\nCall each ticket\nfloor.yaml\n2" in title
    assert "Compliance by day" in text and "2026-11-25" in text and "62.5%" in text  # greet: 5 met of 8
    # Standards without clocks in the period share one line instead of a page each.
    assert "No clocks started in the period: drinks — Serve ordered drinks; call-ticket — Call each ticket." in \
        " ".join(title.split())
    assert text.count("Compliance by day") == 1


def test_a_site_filtered_pdf_lists_the_standards_of_other_sites_in_one_line(history, client, admin):
    response = client.get(f"{URL}?from=2026-11-24&to=2026-11-26&site=sh-02&format=pdf", headers=admin)
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join("\n".join(page.extract_text() for page in reader.pages).split())
    assert text.count("No clocks started in the period") == 1
    assert "No clocks started in the period: drinks — Serve ordered drinks; call-ticket — Call each ticket." in text
    assert text.count("Compliance by day") == 1  # greet only: t9 at sh-02


def test_pdf_draws_a_chart_from_the_daily_series(history):
    document = report(history, daily=True)
    assert [(d["period"], d["met"], d["missed"]) for d in entry(document)["daily"]] == [
        ("2026-11-24", 0, 1), ("2026-11-25", 4, 1)]
    from monitor.reports.pdf import _chart
    from monitor.reports.wording import Wording

    drawing = _chart(next(e for e in typed_report(history, daily=True).standards if e.standard == "greet"),
                     Wording("en"))
    assert any(type(shape).__name__ == "VerticalBarChart" for shape in drawing.contents)


# -- the CLI ----------------------------------------------------------------------------------------
def cli_env(db_url, **extra):
    return {"MONITOR_DATABASE_URL": db_url, "MONITOR_STANDARDS_DIR": str(ENGINE_STANDARDS),
            "MONITOR_SITES": json.dumps(SITES), **extra}


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "pdf"])
def test_cli_report_writes_each_format(history, db_url, tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["report", "--from", "2026-11-24", "--to", "2026-11-26", "--group-by", "staff",
                                       "--standard", "greet", "-o", str(target)], env=cli_env(db_url))
    assert result.exit_code == 0, result.output
    assert f"wrote {fmt}" in result.stderr and str(target) in result.stderr
    data = target.read_bytes()
    if fmt == "json":
        assert [r["staff"] for r in json.loads(data)["standards"][0]["rows"]] == ["li", "wang", "zhang"]
    elif fmt == "csv":
        assert [r["staff"] for r in csv.DictReader(io.StringIO(data.decode()))] == ["li", "wang", "zhang"]
    elif fmt == "xlsx":
        assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames == ["Summary", "greet"]
    else:
        assert "2026-11-24 to 2026-11-26" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_cli_report_to_stdout_and_bad_options(history, db_url):
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--from", "2026-11-24", "--to", "2026-11-26", "--format", "csv"],
                           env=cli_env(db_url))
    assert result.exit_code == 0 and result.stdout.splitlines()[0].startswith("standard,versions,goal_ratio")
    bad = runner.invoke(main, ["report", "--from", "soon"], env=cli_env(db_url))
    assert bad.exit_code == 2 and "--from" in bad.output
    grouping = runner.invoke(main, ["report", "--group-by", "shift"], env=cli_env(db_url))
    assert grouping.exit_code == 2 and "--group-by" in grouping.output


def test_totals_and_title_sets_are_the_same_whatever_the_grouping(history):
    # SQLite adds the groups' counts up for the totals; PostgreSQL counts them again: same answer
    plain = report(history)
    for group_by in ("staff", "site,day", "week,month,hour"):
        grouped = report(history, group_by=group_by)
        assert [(e["standard"], e["total"], e["versions"]) for e in grouped["standards"]] == \
               [(e["standard"], e["total"], e["versions"]) for e in plain["standards"]]
        assert grouped["sites"] == plain["sites"]
    assert entry(plain)["total"]["met"] > 0
