"""sensors.replay: CSV/JSON-lines logs → SPEC §1 events, over a real broker and a real HTTP server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.harness.processes import free_port, wait_for

from sensors.publisher import SendResult
from sensors.replay import (
    ReplayOptions,
    Timed,
    activity_to_type,
    event_id,
    main,
    paced_batches,
    replay_file,
    replay_files,
)

REPO = Path(__file__).resolve().parents[1]
MOSQUITTO = "/usr/sbin/mosquitto"


# -- fixtures: a throwaway broker, a subscriber, a recording sender ---------------------------


class Recorder:
    """A Sender that keeps what it was given: parsing tests need no transport."""

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []

    def send(self, events: list[dict]) -> SendResult:
        self.batches.append(list(events))
        return SendResult(sent=len(events))

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[dict]:
        return [e for batch in self.batches for e in batch]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ER Sepsis Triage", "er_sepsis_triage"),
        ("  Release  A ", "release_a"),
        ("W_Completeren aanvraag", "w_completeren_aanvraag"),
        ("Admission IC--(ward)", "admission_ic_ward"),
        ("1st contact", "e_1st_contact"),
        ("_42_", "e_42"),
        ("Crème brûlée", "cr_me_br_l_e"),
        ("入座", None),
        ("---", None),
    ],
)
def test_it_maps_activity_names_to_event_types(name, expected):
    assert activity_to_type(name) == expected


def test_it_cuts_long_activity_names_to_the_spec_limit():
    event_type = activity_to_type("x" * 50 + " " + "y" * 50)
    assert len(event_type) == 64 and event_type.startswith("x")


# -- CSV reading -----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_it_sniffs_the_delimiter(tmp_path, delimiter):
    rows = [
        ["case", "type", "at", "org:resource"],
        ["A", "ER Registration", "2014-10-22T11:15:41+02:00", "A"],
        ["A", "ER Sepsis Triage", "2014-10-22T11:27:00+02:00", "C"],
        ["B", "IV Antibiotics", "2014-10-23 09:00:00", ""],
    ]
    path = write(tmp_path / "log.csv", "\n".join(delimiter.join(r) for r in rows) + "\n")
    recorder = Recorder()
    summary = replay_file(path, ReplayOptions(attrs=["org:resource"]), sender=recorder)
    assert summary.sent == 3 and summary.skipped == 0
    assert [(e["case"], e["type"]) for e in recorder.events] == [
        ("A", "er_registration"), ("A", "er_sepsis_triage"), ("B", "iv_antibiotics")
    ]
    assert recorder.events[0]["attrs"] == {"org:resource": "A"}
    assert "attrs" not in recorder.events[2]  # empty cells are left out, not sent as ""
    assert all(e["site"] == "replay" for e in recorder.events)


def test_it_reads_quoted_fields_a_bom_and_crlf(tmp_path):
    text = '\ufeffcase;type;at\r\n"12;3";"Seated, table 4";2024-01-01T12:00:00Z\r\n'
    path = write(tmp_path / "quoted.csv", text)
    recorder = Recorder()
    replay_file(path, ReplayOptions(), sender=recorder)
    assert recorder.events[0]["case"] == "12;3"
    assert recorder.events[0]["type"] == "seated_table_4"
    assert recorder.events[0]["at"] == "2024-01-01T12:00:00+00:00"


@pytest.mark.parametrize(
    "stamp, at_format, tz, expected",
    [
        ("2024-03-01T10:00:00", None, "UTC", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01T10:00:00Z", None, "Asia/Shanghai", "2024-03-01T10:00:00+00:00"),  # offset wins
        ("2024-03-01 10:00:00.250", None, "Asia/Shanghai", "2024-03-01T10:00:00.250000+08:00"),
        ("01/03/2024 10:00", "%d/%m/%Y %H:%M", "Europe/Amsterdam", "2024-03-01T10:00:00+01:00"),
        ("01/07/2024 10:00", "%d/%m/%Y %H:%M", "Europe/Amsterdam", "2024-07-01T10:00:00+02:00"),  # DST
        ("2024/07/01 10:00:00 +0530", "%Y/%m/%d %H:%M:%S %z", "UTC", "2024-07-01T10:00:00+05:30"),
    ],
)
def test_it_parses_timestamp_formats_and_zones(tmp_path, stamp, at_format, tz, expected):
    path = write(tmp_path / "t.csv", f"case,type,at\nc1,seated,{stamp}\n")
    recorder = Recorder()
    summary = replay_file(path, ReplayOptions(at_format=at_format, tz=tz), sender=recorder)
    assert summary.skipped == 0
    assert recorder.events[0]["at"] == expected


def test_it_uses_named_columns_and_staff(tmp_path):
    path = write(
        tmp_path / "sepsis.csv",
        "Case ID,Activity,Complete Timestamp,Resource\n"
        "A,ER Registration,2014/10/22 11:15:41.000,A\n",
    )
    options = ReplayOptions(case_col="Case ID", type_col="Activity", at_col="Complete Timestamp",
                            at_format="%Y/%m/%d %H:%M:%S.%f", tz="Europe/Amsterdam", staff_col="Resource")
    recorder = Recorder()
    replay_file(path, options, sender=recorder)
    assert recorder.events[0]["staff"] == "A"
    assert recorder.events[0]["at"] == "2014-10-22T11:15:41+02:00"


def test_ids_are_stable_across_runs_and_directories(tmp_path):
    text = "case,type,at\nc1,seated,2024-01-01T12:00:00Z\nc1,greeted,2024-01-01T12:01:00Z\n"
    first = write(tmp_path / "log.csv", text)
    (tmp_path / "copy").mkdir()
    second = write(tmp_path / "copy" / "log.csv", text)
    runs = []
    for path in (first, first, second):
        recorder = Recorder()
        replay_file(path, ReplayOptions(), sender=recorder)
        runs.append([e["id"] for e in recorder.events])
    assert runs[0] == runs[1] == runs[2]
    assert len(set(runs[0])) == 2
    assert runs[0][0] == event_id("log.csv", 2)  # the header is line 1
    assert event_id("other.csv", 2) != runs[0][0]


def test_malformed_rows_are_skipped_with_reasons(tmp_path):
    path = write(
        tmp_path / "messy.csv",
        "case,type,at\n"
        "c1,seated,2024-01-01T12:00:00Z\n"  # line 2: good
        ",greeted,2024-01-01T12:01:00Z\n"  # 3: no case
        "c1,greeted,yesterday-ish\n"  # 4: bad time
        "c1,,2024-01-01T12:02:00Z\n"  # 5: no activity
        "c2,seated\n"  # 6: short row
        "c3,!!!,2024-01-01T12:03:00Z\n"  # 7: nothing left of the name
        "c1,greeted,31/12/2023\n"  # 8: bad time again
        "c4,left,2024-01-01T12:04:00Z\n",  # 9: good
    )
    recorder = Recorder()
    summary = replay_file(path, ReplayOptions(), sender=recorder)
    assert summary.sent == 2 and summary.skipped == 6 and summary.rows == 8
    assert summary.reasons == {
        "missing case": 1,
        "unparseable timestamp": 2,
        "missing activity": 1,
        "missing timestamp": 1,
        "activity name has no letters or digits": 1,
    }
    report = summary.report()
    assert "unparseable timestamp: 2 (lines 4, 8)" in report
    assert "missing case: 1 (line 3)" in report
    assert "2 events sent, 6 rows skipped" in report


# -- JSON lines ------------------------------------------------------------------------------


def test_json_lines_pass_through_unchanged(tmp_path):
    events = [
        {"id": "e1", "case": "t1", "type": "seated", "at": "2024-01-01T12:00:00+08:00", "site": "bj-01",
         "attrs": {"table": 4, "vip": True, "note": None}},
        {"id": "e2", "case": "t1", "type": "Greeted!", "at": "not a time", "extra": [1, 2]},
    ]
    batch = [{"id": "e3", "case": "t2", "type": "seated", "at": "2024-01-01T12:05:00+08:00"}]
    lines = [json.dumps(events[0]), "", json.dumps(events[1]), "{broken", json.dumps(batch), "42"]
    path = write(tmp_path / "events.ndjson", "\n".join(lines) + "\n")
    recorder = Recorder()
    summary = replay_file(path, ReplayOptions(), sender=recorder)
    assert recorder.events == events + batch  # the monitor, not the replay, judges bad fields
    assert summary.reasons == {"invalid JSON": 1, "not a JSON object": 1}
    assert summary.skips.lines["invalid JSON"] == [4]


def test_json_lines_are_recognised_by_content(tmp_path):
    path = write(tmp_path / "events.log", '{"id": "x", "case": "c", "type": "seated", "at": "2024-01-01T00:00:00Z"}\n')
    recorder = Recorder()
    replay_file(path, ReplayOptions(), sender=recorder)
    assert recorder.events == [{"id": "x", "case": "c", "type": "seated", "at": "2024-01-01T00:00:00Z"}]


# -- usage errors ----------------------------------------------------------------------------


def test_bad_usage_exits_2_before_sending(tmp_path, capsys):
    good = write(tmp_path / "good.csv", "case,type,at\nc,seated,2024-01-01T00:00:00Z\n")
    no_col = write(tmp_path / "nocol.csv", "id,activity,time\nc,seated,2024-01-01T00:00:00Z\n")
    unreachable = ["--mqtt-url", f"mqtt://127.0.0.1:{free_port()}"]  # nothing listens: proves no send
    assert main([str(good), str(no_col), *unreachable]) == 2
    assert "'case'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv"), *unreachable]) == 2
    assert main([str(good), "--tz", "Mars/Olympus", *unreachable]) == 2
    assert main([str(good), "--site", "bad/site", *unreachable]) == 2
    assert main([str(good), "--to", "http", *unreachable]) == 2  # no --url/--token
    with pytest.raises(SystemExit) as exc:
        main([str(good), "--speed", "fast"])
    assert exc.value.code == 2


def test_transport_failure_exits_1(tmp_path, capsys):
    good = write(tmp_path / "good.csv", "case,type,at\nc,seated,2024-01-01T00:00:00Z\n")
    assert main([str(good), "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}", "--quiet"]) == 1
    assert "cannot reach MQTT broker" in capsys.readouterr().err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--case-col", "--type-col", "--at-col", "--at-format", "--tz", "--site", "--device",
                   "--to", "--mqtt-url", "--url", "--token", "--speed", "--attrs", "--batch"):
        assert option in text
    assert "er_sepsis_triage" in text


# -- pacing ----------------------------------------------------------------------------------


def test_speed_paces_events_in_event_time_order():
    base = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    timed = [
        Timed({"id": "late"}, base + timedelta(minutes=2)),
        Timed({"id": "first"}, base),
        Timed({"id": "same-moment"}, base),
        Timed({"id": "mid"}, base + timedelta(minutes=1)),
    ]
    fake_now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        fake_now[0] += seconds

    batches = list(paced_batches(timed, speed=60, batch=100, clock=lambda: fake_now[0], sleep=sleep))
    assert [[e["id"] for e in b] for b in batches] == [["first", "same-moment"], ["mid"], ["late"]]
    assert sleeps == [1.0, 1.0]  # one minute of event time = one second at 60x


# -- real transports -------------------------------------------------------------------------


def test_replay_over_mqtt_reaches_a_subscriber(tmp_path, broker, subscriber):
    rows = ["case,type,at,table"] + [
        f"table-{n % 7}/2024-01-01,{'Seated' if n % 2 else 'Greeted'},2024-01-01T12:{n % 60:02d}:00+08:00,{n % 7}"
        for n in range(250)
    ]
    path = write(tmp_path / "floor.csv", "\n".join(rows) + "\n")
    options = ReplayOptions(mqtt_url=broker, site="bj-01", device="replayer", attrs=["table"], batch=40)
    summary = replay_file(path, options)
    assert summary.sent == 250 and summary.skipped == 0
    wait_for(lambda: len(subscriber.events()) >= 250, message="250 events")
    received = subscriber.events()
    assert len(received) == 250
    assert {t for t, *_ in subscriber.messages if t.endswith("/events")} == {"smartmon/v1/bj-01/replayer/events"}
    assert max(len(p) for t, p, _ in subscriber.messages if t.endswith("/events")) <= 40
    first = received[0]
    assert first == {"id": event_id("floor.csv", 2), "case": "table-0/2024-01-01", "type": "greeted",
                     "at": "2024-01-01T12:00:00+08:00", "site": "bj-01", "attrs": {"table": "0"}}
    assert len({e["id"] for e in received}) == 250
    status = "smartmon/v1/bj-01/replayer/status"
    wait_for(lambda: subscriber.statuses(status)[-1:] == ["offline"], message="offline status")
    assert subscriber.statuses(status) == ["online", "offline"]


def test_replay_cli_over_mqtt(tmp_path, broker, subscriber):
    path = write(tmp_path / "cli.csv", "case,type,at\nc1,seated,2024-01-01T12:00:00Z\n,bad,\nc1,left,2024-01-01T12:30:00Z\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MONITOR_MQTT_URL": broker}
    done = subprocess.run([sys.executable, "-m", "sensors.replay", str(path), "--site", "cli"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 events sent, 1 rows skipped" in done.stderr
    assert "missing case: 1 (line 3)" in done.stderr
    wait_for(lambda: len(subscriber.events("/cli/replay/events")) == 2, message="2 CLI events")


class _Recording(BaseHTTPRequestHandler):
    posts: list[dict] = []
    seen: set[str] = set()

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        duplicates = sum(1 for e in body if e["id"] in self.seen)
        self.seen.update(e["id"] for e in body)
        reply = json.dumps({"accepted": len(body) - duplicates, "duplicates": duplicates, "rejected": []}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_monitor():
    handler = type("Handler", (_Recording,), {"posts": [], "seen": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_replay_over_http_posts_batches_with_the_token(tmp_path, http_monitor):
    url, handler = http_monitor
    rows = ["case,type,at"] + [f"c{n},seated,2024-01-01T12:00:{n % 60:02d}Z" for n in range(25)]
    path = write(tmp_path / "http.csv", "\n".join(rows) + "\n")
    options = ReplayOptions(to="http", url=url, token="s3cret", batch=10)
    first = replay_file(path, options)
    again = replay_file(path, options)
    assert [len(p["body"]) for p in handler.posts] == [10, 10, 5, 10, 10, 5]
    assert {p["path"] for p in handler.posts} == {"/api/v1/events"}
    assert {p["auth"] for p in handler.posts} == {"Bearer s3cret"}
    assert handler.posts[0]["body"][0]["site"] == "replay"
    assert (first.monitor.accepted, first.monitor.duplicates) == (25, 0)
    assert (again.monitor.accepted, again.monitor.duplicates) == (0, 25)  # stable ids
    assert "monitor: 0 accepted, 25 duplicates, 0 rejected" in again.report()


def test_several_files_are_replayed_in_order(tmp_path):
    a = write(tmp_path / "a.csv", "case,type,at\nc,seated,2024-01-01T12:00:00Z\n")
    b = write(tmp_path / "b.jsonl", '{"id": "j", "case": "c", "type": "left", "at": "2024-01-01T13:00:00Z"}\n')
    recorder = Recorder()
    summary = replay_files([a, b], ReplayOptions(), sender=recorder)
    assert [e["type"] for e in recorder.events] == ["seated", "left"]
    assert summary.rows == 2 and summary.files == [str(a), str(b)]
