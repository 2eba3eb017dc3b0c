"""The one ingestion door, tested directly (Ingestor.ingest) and through POST /api/v1/events."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from monitor.auth import create_token
from monitor.ingest import Delivery
from monitor.store.models import ClockRow, DeadLetter, EventRow

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def event(id_: str, case: str = "table-1", type_: str = "seated", at: datetime | str | None = None, **extra) -> dict:
    at = at or NOW - timedelta(minutes=1)
    return {"id": id_, "case": case, "type": type_, "at": at if isinstance(at, str) else at.isoformat(), **extra}


def mqtt(payload, site: str = "bj-01", device: str = "tab-1") -> Delivery:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Delivery(raw, f"mqtt:smartmon/v1/{site}/{device}/events", site=site, device=device)


def stored(runtime, model=EventRow) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def dead_letters(runtime) -> list[DeadLetter]:
    with runtime.db.session() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_it_stores_an_event_once_with_its_receive_time(runtime):
    first, again = runtime.ingestor.ingest([mqtt(event("e1")), mqtt(event("e1"))], now=NOW)
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (0, 1)
    runtime.ingestor.ingest([mqtt(event("e1"))], now=NOW)
    with runtime.db.session() as session:
        rows = session.scalars(select(EventRow)).all()
    assert [(r.id, r.site, r.device, r.received_at) for r in rows] == [("e1", "bj-01", "tab-1", NOW)]


def test_it_keeps_the_good_events_of_a_mixed_batch(runtime):
    batch = [event("good-1"), {"id": "no-case", "type": "seated", "at": NOW.isoformat()},
             event("bad-type", type_="Seated!"), event("good-2", case="table-2")]
    outcome = runtime.ingestor.ingest([mqtt(batch)], now=NOW)[0]
    assert outcome.accepted == 2
    assert [r["index"] for r in outcome.rejected] == [1, 2]
    letters = dead_letters(runtime)
    assert [letter.reason for letter in letters] == [
        "event 1: case: Missing data for required field.",
        "event 2: type: must match [a-z][a-z0-9_.-]{0,63}"]
    assert json.loads(letters[1].raw)["id"] == "bad-type"
    assert all(letter.source == "mqtt:smartmon/v1/bj-01/tab-1/events" for letter in letters)
    assert stored(runtime) == 2


def test_it_dead_letters_every_kind_of_bad_payload_with_a_reason(runtime):
    cases = {
        b"{not json": "not valid JSON",
        b"\xff\xfe\x00garbage": "not valid JSON",
        json.dumps(event("x", at=NOW + timedelta(minutes=6))).encode(): "in the future",
        json.dumps(event("x", site="other-site")).encode(): "does not match the topic's site",
        json.dumps(event("x", attrs={"nested": {"a": 1}})).encode(): "attrs.nested must be",
        json.dumps(event("x", at="2026-11-24T10:00:00")).encode(): "no UTC offset",
        json.dumps(event("x", case="a\u0000b")).encode(): "NUL character",
        json.dumps({**event("x"), "colour": "red"}).encode(): "Unknown field",
        json.dumps([event(f"b{i}") for i in range(1001)]).encode(): "over the limit of 1000",
        json.dumps(event("x", attrs={"blob": "x" * 300_000})).encode(): "byte limit",
        b"[]": "empty batch",
        b"42": "must be a JSON object",
    }
    outcomes = runtime.ingestor.ingest([mqtt(raw) for raw in cases], now=NOW)
    assert all(o.accepted == 0 and len(o.rejected) == 1 for o in outcomes)
    letters = dead_letters(runtime)
    assert len(letters) == len(cases)
    for letter, expected in zip(letters, cases.values()):
        assert expected in letter.reason, (letter.reason, expected)
        assert "\n" not in letter.reason
    assert "\\xff\\xfe\\x00" in letters[1].raw  # invalid UTF-8 and NUL kept, escaped
    assert stored(runtime) == 0


def test_a_future_event_within_the_allowed_skew_is_kept(runtime):
    outcome = runtime.ingestor.ingest([mqtt(event("soon", at=NOW + timedelta(minutes=4)))], now=NOW)[0]
    assert outcome.accepted == 1


def test_http_requires_a_token(client):
    response = client.post("/api/v1/events", data=json.dumps(event("e1")))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_http_answers_accepted_duplicates_and_rejected(client, admin):
    body = json.dumps([event("h1"), event("h1"), {"id": "h2"}])
    response = client.post("/api/v1/events", data=body, headers=admin)
    assert response.status_code == 202
    assert response.json["accepted"] == 1 and response.json["duplicates"] == 1
    assert response.json["rejected"][0]["index"] == 2


def test_http_refuses_unparseable_and_oversized_payloads_as_json_errors(client, admin, runtime):
    bad = client.post("/api/v1/events", data=b"{oops", headers=admin)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_payload"
    huge = client.post("/api/v1/events", data=b"[" + b" " * 300_000 + b"]", headers=admin)
    assert huge.status_code == 413 and "byte limit" in huge.json["error"]["message"]
    assert len(dead_letters(runtime)) == 2


def test_a_device_token_is_held_to_its_sites(client, runtime):
    with runtime.db.session() as session:
        _, secret = create_token(session, "device", ["bj-01"])
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.post("/api/v1/events", data=json.dumps([event("d1"), event("d2", site="sh-02")]),
                           headers=headers)
    assert response.json["accepted"] == 1
    assert "may not send events for site 'sh-02'" in response.json["rejected"][0]["reason"]
    with runtime.db.session() as session:
        assert session.scalar(select(EventRow.site).where(EventRow.id == "d1")) == "bj-01"


def test_a_manager_token_may_not_post_events(client, runtime):
    with runtime.db.session() as session:
        _, secret = create_token(session, "manager")
    response = client.post("/api/v1/events", data=json.dumps(event("m1")),
                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403


def test_dead_letters_page_with_next_links(client, admin, runtime):
    runtime.ingestor.ingest([mqtt(b"{bad") for _ in range(5)], now=NOW)
    first = client.get("/api/v1/dead-letters?limit=2", headers=admin).json
    assert len(first["items"]) == 2 and first["next"].startswith("/api/v1/dead-letters?")
    seen = [item["id"] for item in first["items"]]
    url = first["next"]
    while url:
        page = client.get(url, headers=admin).json
        seen += [item["id"] for item in page["items"]]
        url = page["next"]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 5
    assert set(first["items"][0]) == {"id", "received_at", "source", "reason", "raw"}


# -- ids per site (SPEC §1) ------------------------------------------------------------------------
def test_the_same_id_at_two_sites_is_two_events(runtime):
    a, b = runtime.ingestor.ingest([mqtt(event("shared-1", case="t-a")), mqtt(event("shared-1", case="t-b"),
                                                                               site="sh-02")], now=NOW)
    assert (a.accepted, b.accepted, a.duplicates + b.duplicates) == (1, 1, 0)
    with runtime.db.session() as session:
        rows = session.execute(select(EventRow.site, EventRow.id, EventRow.case_id).order_by(EventRow.seq)).all()
        clocks = session.execute(select(ClockRow.site, ClockRow.case_id).order_by(ClockRow.case_id)).all()
    assert rows == [("bj-01", "shared-1", "t-a"), ("sh-02", "shared-1", "t-b")]
    assert clocks == [("bj-01", "t-a"), ("sh-02", "t-b")]  # each judged: nothing silently dropped


def test_an_identical_repeat_is_a_duplicate_even_with_another_offset(runtime):
    first = event("r1", at=NOW - timedelta(minutes=1), staff="li", attrs={"table": 12, "vip": True})
    local = {**first, "at": (NOW - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=8))).isoformat()}
    outcomes = runtime.ingestor.ingest([mqtt(first), mqtt(local), mqtt([first, first])], now=NOW)
    assert [(o.accepted, o.duplicates, o.rejected) for o in outcomes] == [(1, 0, []), (0, 1, []), (0, 2, [])]
    assert dead_letters(runtime) == []


@pytest.mark.parametrize("change", [{"case": "table-9"}, {"type": "greeted"}, {"staff": "wang"},
                                    {"attrs": {"table": 13}}, {"attrs": {"table": "12"}},
                                    {"at": (NOW - timedelta(seconds=59)).isoformat()}])
def test_a_repeat_with_other_content_is_a_dead_letter_and_the_batch_keeps_its_good_events(runtime, change):
    original = event("r1", staff="li", attrs={"table": 12})
    runtime.ingestor.ingest([mqtt(original)], now=NOW)
    outcome = runtime.ingestor.ingest([mqtt([event("good-1"), {**original, **change}, event("good-2")])], now=NOW)[0]
    assert (outcome.accepted, outcome.duplicates) == (2, 0)
    assert outcome.rejected == [{"index": 1, "reason": "event 1: id reused with different content"}]
    [letter] = dead_letters(runtime)
    assert letter.reason == "event 1: id reused with different content"
    assert json.loads(letter.raw) == {**original, **change} and letter.source == "mqtt:smartmon/v1/bj-01/tab-1/events"
    with runtime.db.session() as session:
        kept = session.scalar(select(EventRow).where(EventRow.id == "r1"))
    assert (kept.case_id, kept.type, kept.staff, kept.attrs) == ("table-1", "seated", "li", {"table": 12})
    lone = runtime.ingestor.ingest([mqtt({**original, **change})], now=NOW)[0]
    assert lone.rejected == [{"index": 0, "reason": "id reused with different content"}]


def clock_states(runtime, case: str) -> list[tuple[str, str]]:
    with runtime.db.session() as session:
        return session.execute(select(ClockRow.site, ClockRow.state).where(ClockRow.case_id == case)).all()


def test_a_device_at_one_site_cannot_stop_or_cancel_a_case_of_another(runtime):
    """Case ids are global (GET /cases/{case}), so a case is timed at the site of its first event:
    another site's greeted, left or cancel for it is dead-lettered, never applied to its clocks."""
    runtime.ingestor.ingest([mqtt(event("b-seat", case="table-8/shared"), site="sh-02")], now=NOW)
    assert clock_states(runtime, "table-8/shared") == [("sh-02", "running")]
    attack = [event("a-greet", case="table-8/shared", type_="greeted"), event("a-own", case="table-9/own")]
    outcome = runtime.ingestor.ingest([mqtt(attack, site="bj-01")], now=NOW)[0]
    assert outcome.accepted == 1
    assert outcome.rejected == [{"index": 0, "reason": "event 0: case belongs to another site"}]
    assert clock_states(runtime, "table-8/shared") == [("sh-02", "running")]
    assert [json.loads(d.raw)["id"] for d in dead_letters(runtime)] == ["a-greet"]
    # inside one batch the first event's site takes the case; the site's own events still apply
    both = runtime.ingestor.ingest([mqtt([event("x1", case="t-new"), event("x2", case="t-new", type_="greeted")],
                                         site="sh-02"),
                                    mqtt(event("x3", case="t-new", type_="greeted"), site="bj-01")], now=NOW)
    assert [(o.accepted, len(o.rejected)) for o in both] == [(2, 0), (0, 1)]
    assert clock_states(runtime, "t-new") == [("sh-02", "met")]


def test_a_conflict_inside_one_batch_keeps_the_first(runtime):
    outcome = runtime.ingestor.ingest([mqtt([event("c1"), event("c1", type_="greeted")])], now=NOW)[0]
    assert (outcome.accepted, [r["index"] for r in outcome.rejected]) == (1, [1])


def test_http_answers_a_conflicting_repeat_with_422(client, admin):
    assert client.post("/api/v1/events", data=json.dumps(event("h9")), headers=admin).status_code == 202
    again = client.post("/api/v1/events", data=json.dumps(event("h9", type_="greeted")), headers=admin)
    assert again.status_code == 422
    assert again.json["error"]["details"]["rejected"] == [{"index": 0, "reason": "id reused with different content"}]
