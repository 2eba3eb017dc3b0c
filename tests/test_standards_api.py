"""Standards through the API: listing with SMART grades, raw files with versions, live edits, back-tests."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from monitor.ingest import Delivery
from tests.harness.service import ENGINE_STANDARDS

FLOOR = (ENGINE_STANDARDS / "floor.yaml").read_text()


def test_it_lists_standards_with_file_version_and_smart_grade(client, admin):
    items = client.get("/api/v1/standards", headers=admin).json["items"]
    greet = next(i for i in items if i["id"] == "greet")
    assert (greet["file"], greet["version"], greet["within"]) == ("floor.yaml", 1, "2m")
    assert set(greet["smart"]["criteria"]) == {"specific", "measurable", "achievable", "relevant", "time_bound"}
    assert greet["smart"]["grade"] in ("pass", "warn", "fail", "unknown")


def test_the_file_on_disk_at_first_start_is_version_1_by_file(client, admin):
    response = client.get("/api/v1/standards/files/floor.yaml", headers=admin)
    assert response.status_code == 200 and response.headers["ETag"] == '"1"'
    assert response.get_data(as_text=True) == FLOOR
    versions = client.get("/api/v1/standards/files/floor.yaml/versions", headers=admin).json["items"]
    assert [(v["version"], v["author"]) for v in versions] == [(1, "file")]


def test_a_put_is_validated_versioned_and_applied_without_restart(client, admin, runtime):
    edited = FLOOR.replace("within: 2m\n", "within: 5m\n", 1)
    response = client.put("/api/v1/standards/files/floor.yaml", data=edited, headers={**admin, "If-Match": '"1"'})
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    assert runtime.registry.current.get("greet").within == timedelta(minutes=5)
    versions = client.get("/api/v1/standards/files/floor.yaml/versions", headers=admin).json["items"]
    assert [(v["version"], v["author"]) for v in versions] == [(2, "admin-token"), (1, "file")]
    assert "-    within: 2m" in versions[0]["diff"] and "+    within: 5m" in versions[0]["diff"]
    # a table seated after the save is judged by version 2; one seated before it, by version 1 (SPEC §3.2)
    for case, at in (("t1", datetime.now(timezone.utc)), ("t0", datetime.now(timezone.utc) - timedelta(minutes=1))):
        payload = json.dumps({"id": f"x-{case}", "case": case, "type": "seated", "at": at.isoformat()}).encode()
        runtime.ingestor.ingest([Delivery(payload, "test")])
    clock = client.get("/api/v1/cases/t1", headers=admin).json["clocks"][0]
    assert clock["version"] == 2
    assert datetime.fromisoformat(clock["deadline"]) - datetime.fromisoformat(clock["start"]) == timedelta(minutes=5)
    before = client.get("/api/v1/cases/t0", headers=admin).json["clocks"][0]
    assert before["version"] == 1
    assert datetime.fromisoformat(before["deadline"]) - datetime.fromisoformat(before["start"]) == timedelta(minutes=2)


def test_a_bad_file_names_line_and_column_and_changes_nothing(client, admin, runtime):
    broken = FLOOR.replace("within: 2m\n", "within: soon\n", 1)
    response = client.put("/api/v1/standards/files/floor.yaml", data=broken, headers=admin)
    assert response.status_code == 422
    detail = response.json["error"]["details"][0]
    line = FLOOR.splitlines().index("    within: 2m") + 1
    assert (detail["file"], detail["line"], detail["column"]) == ("floor.yaml", line, 13)
    assert "bad duration" in detail["message"]
    assert client.get("/api/v1/standards/files/floor.yaml", headers=admin).headers["ETag"] == '"1"'
    assert runtime.registry.current.get("greet").within == timedelta(minutes=2)


def test_if_match_naming_an_old_version_is_refused_with_412(client, admin):
    assert client.put("/api/v1/standards/files/floor.yaml", data=FLOOR + "\n", headers=admin).status_code == 200
    stale = client.put("/api/v1/standards/files/floor.yaml", data=FLOOR, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json["error"]["code"] == "precondition_failed"
    assert client.get("/api/v1/standards/files/floor.yaml", headers=admin).headers["ETag"] == '"2"'


def test_backtest_compares_the_proposed_and_current_version(client, admin, runtime):
    now = datetime.now(timezone.utc)
    events = []
    for i, wait in enumerate([60, 150, 200, 400]):  # greeted after these many seconds
        start = now - timedelta(days=1, minutes=i * 10)
        events += [{"id": f"s{i}", "case": f"t{i}", "type": "seated", "at": start.isoformat()},
                   {"id": f"g{i}", "case": f"t{i}", "type": "greeted", "at": (start + timedelta(seconds=wait)).isoformat()}]
    runtime.ingestor.ingest([Delivery(json.dumps(events).encode(), "test")])
    proposed = FLOOR.replace("within: 2m\n", "within: 4m\n", 1)
    response = client.post("/api/v1/standards/backtest?file=floor.yaml&days=7", data=proposed, headers=admin)
    assert response.status_code == 200
    greet = next(s for s in response.json["standards"] if s["standard"] == "greet")
    assert (greet["current"]["met"], greet["current"]["missed"]) == (1, 3)
    assert (greet["proposed"]["met"], greet["proposed"]["missed"]) == (3, 1)
    assert greet["proposed"]["compliance"] == 0.75


def test_smart_evaluation_on_stored_data(client, admin, runtime):
    now = datetime.now(timezone.utc)
    events = []
    for i in range(10):
        start = now - timedelta(hours=i + 1)
        events += [{"id": f"s{i}", "case": f"t{i}", "type": "seated", "at": start.isoformat()},
                   {"id": f"g{i}", "case": f"t{i}", "type": "greeted",
                    "at": (start + timedelta(seconds=60 if i < 3 else 180)).isoformat()}]
    runtime.ingestor.ingest([Delivery(json.dumps(events).encode(), "test")])
    result = client.get("/api/v1/standards/greet/smart?days=7", headers=admin).json
    assert result["standard"] == "greet" and result["version"] == 1
    achievable = result["criteria"]["achievable"]
    assert achievable["status"] == "fail"
    assert achievable["observed_ratio"] == 0.3
    assert achievable["sustainable_target_s"] == 180.0
    assert client.get("/api/v1/standards/nope/smart", headers=admin).status_code == 404
    assert client.get("/api/v1/standards/greet/smart?days=0", headers=admin).status_code == 400
