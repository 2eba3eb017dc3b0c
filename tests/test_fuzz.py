"""Bad input (issue #6, item 4a and 4c): hypothesis against the one ingestion door, and the memory of
the real service under a flood of huge and invalid payloads.

The door's contract (SPEC §1), checked after every generated call of ``Ingestor.ingest``:
- it never raises (over MQTT a raise is retried for ever without an ack: one message halts ingestion);
- every event is accounted for: ``accepted + duplicates + rejected`` = the events of the payload,
  or one whole-payload rejection (``index`` None) when the payload is not usable as a whole;
- every rejection is one dead letter whose reason is one line; the stored events grow by ``accepted``.

Each property runs on SQLite and on a throwaway PostgreSQL cluster (an error when none can be
started), with the standards of tests/faults.py (warning, escalation, pause, cancel, correlation
key, ``deadline_attr``), so accepted events also go through clock evaluation and alert planning.

The inputs that once broke the door (surrogates, line breaks and NUL in names, times near
datetime's limits, NaN and huge numbers, overlong keys and topics) are tests of their own below.
Longer runs: ``SMARTMON_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py -k property`` (the
default is 200 examples per property and backend).
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor.core.clocks import in_range
from monitor.ingest import Delivery
from monitor.store.models import DeadLetter, DeviceStatus, EventRow
from tests import faults
from tests.conftest import app_config
from tests.harness.processes import wait_for
from tests.faults import (
    PREFIX,
    ServiceDb,
    Publisher,
    RssSampler,
    new_service,
    PgCluster,
    report,
    rss,
    write_standards,
)

broker, standards, services = faults.broker, faults.standards, faults.services  # fixtures

EXAMPLES = int(os.environ.get("SMARTMON_FUZZ_EXAMPLES", "200"))
SITE, DEVICE = "fz-01", "dev-1"
TOPIC = f"{PREFIX}/{SITE}/{DEVICE}/events"
MiB = 1024 * 1024
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
TYPES = ["opened", "closed", "abandoned", "noted", "ordered", "delivered", "promised", "replied", "held", "resumed"]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                       HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])


# -- the door on both backends ------------------------------------------------------------------
@dataclass
class Door:
    backend: str
    runtime: object

    @property
    def ingestor(self):
        return self.runtime.ingestor

    def count(self, model) -> int:
        with self.runtime.db.session() as session:
            return session.scalar(select(func.count()).select_from(model))

    def reasons_since(self, dead_letter_id: int) -> list[str]:
        with self.runtime.db.session() as session:
            return list(session.scalars(select(DeadLetter.reason).where(DeadLetter.id > dead_letter_id)))

    def last_dead_letter(self) -> int:
        with self.runtime.db.session() as session:
            return session.scalar(select(func.max(DeadLetter.id))) or 0


def _door(tmp_path_factory, url: str, backend: str) -> Door:
    from monitor.app import create_app

    directory = write_standards(tmp_path_factory.mktemp("fuzz-standards"))
    app = create_app(app_config(url, standards={"dir": str(directory)}))
    return Door(backend, app.extensions["smartmon"])


@pytest.fixture(scope="module")
def sqlite_door(tmp_path_factory):
    door = _door(tmp_path_factory, f"sqlite:///{tmp_path_factory.mktemp('fuzz-db')}/fuzz.db", "sqlite")
    yield door
    door.runtime.db.dispose()


@pytest.fixture(scope="module")
def pg_door(tmp_path_factory):
    cluster = PgCluster.started()
    try:
        door = _door(tmp_path_factory, cluster.url, "postgresql")
        yield door
        door.runtime.db.dispose()
    finally:
        cluster.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def door(request) -> Door:
    return request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'pg'}_door")


def delivery(raw: bytes) -> Delivery:
    return Delivery(raw, f"mqtt:{TOPIC}", site=SITE, device=DEVICE)


def one_line(reason: str) -> bool:
    return bool(reason.strip()) and len(reason.splitlines()) == 1


def events_in(raw: bytes) -> int:
    document = json.loads(raw)
    return len(document) if isinstance(document, list) else 1


def check_door(door: Door, payloads: list[bytes]) -> None:
    """Ingest the payloads in one call (as the MQTT bridge does) and check the door's contract."""
    events_before, letters_before = door.count(EventRow), door.count(DeadLetter)
    last_letter = door.last_dead_letter()
    outcomes = door.ingestor.ingest([delivery(raw) for raw in payloads])
    assert len(outcomes) == len(payloads)
    for raw, outcome in zip(payloads, outcomes):
        assert all(one_line(r["reason"]) for r in outcome.rejected), outcome.rejected
        if any(r["index"] is None for r in outcome.rejected):
            assert (outcome.accepted, outcome.duplicates, len(outcome.rejected)) == (0, 0, 1), outcome
        else:
            assert outcome.accepted + outcome.duplicates + len(outcome.rejected) == events_in(raw), outcome
    assert door.count(EventRow) - events_before == sum(o.accepted for o in outcomes)
    assert door.count(DeadLetter) - letters_before == sum(len(o.rejected) for o in outcomes)
    reasons = door.reasons_since(last_letter)
    assert all(one_line(reason) for reason in reasons), [r for r in reasons if not one_line(r)]


# -- strategies ---------------------------------------------------------------------------------
def chars(names: bool = False):
    """Any character; names lean on line breaks and NUL, which once leaked into reasons."""
    return st.characters() | st.sampled_from(LINE_BREAKS + "\x00") if names else st.characters()


def texts(min_size: int = 0, max_size: int = 20, names: bool = False):
    return st.text(chars(names), min_size=min_size, max_size=max_size)


OFFSETS = st.integers(-14 * 60 + 1, 14 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


def timestamps():
    now = datetime.now(timezone.utc)
    recent = st.datetimes(min_value=datetime(2020, 1, 1), max_value=(now + timedelta(minutes=4)).replace(tzinfo=None))
    anywhen = st.datetimes()  # year 1 to 9999: far past and far future
    moments = st.builds(lambda d, tz: d.replace(tzinfo=tz), recent | anywhen, OFFSETS)
    naive = st.datetimes().map(lambda d: d.isoformat())
    garbage = st.text(max_size=45)
    return moments.map(lambda m: m.isoformat()) | naive | garbage


def scalars(key: str = ""):
    floats = st.floats(allow_nan=False, allow_infinity=False)  # valid JSON numbers; json_values adds the rest
    strings = texts(max_size=400)
    if key == "promised_by":
        strings = timestamps()
    return st.none() | st.booleans() | st.integers(-10**18, 10**18) | floats | strings


def attrs():
    known = st.fixed_dictionaries({}, optional={k: scalars(k) for k in ("order_id", "promised_by", "table")})
    extra = st.dictionaries(texts(1, 64, names=True), scalars(), max_size=4)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


CASES = [f"case-{i}" for i in range(40)]


def valid_events():
    return st.fixed_dictionaries(
        {"id": st.uuids().map(str) | texts(1, 128), "case": st.sampled_from(CASES) | texts(1, 200),
         "type": st.sampled_from(TYPES) | st.from_regex(r"\A[a-z][a-z0-9_.-]{0,63}\Z"), "at": timestamps()},
        optional={"site": st.just(SITE), "staff": st.none() | texts(1, 200), "attrs": attrs()})


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
FIELDS = ["id", "case", "type", "at", "site", "staff", "attrs"]


def json_values():
    leaves = (st.none() | st.booleans() | st.integers() | scalars() | texts(max_size=30)
              | st.sampled_from([math.nan, math.inf, -math.inf, 1e308]))
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(texts(max_size=8, names=True), inner, max_size=4), max_leaves=20)


@st.composite
def near_valid(draw):
    """A valid event with a few fields broken: dropped, retyped, overlong, emptied, NUL'd, nested, unknown."""
    event = dict(draw(valid_events()))
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        mutation = draw(st.sampled_from(["drop", "retype", "long", "empty", "nul", "nest", "unknown", "huge"]))
        if mutation == "drop":
            event.pop(field, None)
        elif mutation == "retype":
            event[field] = draw(json_values())
        elif mutation == "long":
            event[field] = "x" * draw(st.sampled_from([64, 65, 128, 129, 200, 201, 5000]))
        elif mutation == "empty":
            event[field] = draw(st.sampled_from(["", [], {}, None, 0]))
        elif mutation == "nul":
            event[field] = f"a\x00{event.get(field, '')}"
        elif mutation == "nest":
            event[field] = {"nested": [event.get(field)]}
        elif mutation == "unknown":
            event[draw(texts(1, 20, names=True))] = draw(json_values())
        else:
            event.setdefault("attrs", {})
            if isinstance(event["attrs"], dict):
                event["attrs"]["blob"] = "y" * draw(st.integers(1000, 60_000))
    return event


def dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# -- 4a: properties of the door -----------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_property_random_bytes_are_dead_lettered_never_raised(door, data):
    payloads = data.draw(st.lists(st.binary(max_size=2048), min_size=1, max_size=4))
    check_door(door, payloads)


@FUZZ
@given(data=st.data())
def test_property_random_json_is_accounted_for(door, data):
    payloads = data.draw(st.lists(json_values().map(dumps), min_size=1, max_size=4))
    check_door(door, payloads)


@FUZZ
@given(data=st.data())
def test_property_near_valid_events_and_batches_are_accounted_for(door, data):
    one = near_valid()
    payload = one | st.lists(one, min_size=1, max_size=12)
    payloads = data.draw(st.lists(payload.map(dumps), min_size=1, max_size=3))
    check_door(door, payloads)
    check_door(door, payloads)  # sent again, as a device retrying: duplicates, nothing new stored


@FUZZ
@given(data=st.data())
def test_property_valid_events_are_all_accepted_once(door, data):
    batch = data.draw(st.lists(valid_events().filter(_acceptable), min_size=1, max_size=12,
                               unique_by=lambda e: e["id"]))
    batch = [{**e, "id": f"{uuid.uuid4()}"} for e in batch]  # fresh ids: nothing stored before
    outcome = door.ingestor.ingest([delivery(dumps(batch))])[0]
    assert (outcome.accepted, outcome.duplicates, outcome.rejected) == (len(batch), 0, [])
    again = door.ingestor.ingest([delivery(dumps(batch))])[0]
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(batch), [])


def _acceptable(event: dict) -> bool:
    """Events the door must take: a well-formed time with an offset, in 1900–8999, not in the future,
    text without NUL or lone surrogates."""
    try:
        moment = datetime.fromisoformat(event["at"])
    except ValueError:
        return False
    if moment.tzinfo is None or "T" not in event["at"] or not 10 <= len(event["at"]) <= 40:
        return False
    if not in_range(moment):
        return False
    try:
        json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate: refused, as text that cannot be stored
    return moment - datetime.now(timezone.utc) < timedelta(minutes=4) and "\\u0000" not in json.dumps(event)


HUGE = {
    "10,000-element array of events": lambda: dumps([{"id": f"a{i}", "case": "c", "type": "noted",
                                                       "at": "2026-01-01T00:00:00Z"} for i in range(10_000)]),
    "10,000-element array of numbers": lambda: dumps(list(range(10_000))),
    "1,000 events, the batch limit": lambda: dumps([{"id": str(uuid.uuid4()), "case": f"big-{i % 7}",
                                                     "type": "noted", "at": "2026-01-01T00:00:00Z"}
                                                    for i in range(1000)]),
    "1,001 events, one over": lambda: dumps([{"id": str(uuid.uuid4()), "case": "c", "type": "noted",
                                              "at": "2026-01-01T00:00:00Z"} for i in range(1001)]),
    "nesting 100,000 deep": lambda: b"[" * 100_000 + b"]" * 100_000,
    "nesting 100,000 deep, unclosed": lambda: b'{"a":' * 100_000,
    "attrs nested 900 deep": lambda: dumps({"id": "n1", "case": "c", "type": "noted",
                                            "at": "2026-01-01T00:00:00Z", "attrs": {"x": json.loads("[" * 900 + "]" * 900)}}),
    "invalid UTF-8": lambda: b'{"id": "\xff\xfe", "case": "\xc3\x28", "type": "noted"}',
    "NUL bytes everywhere": lambda: b"\x00" * 1000 + b'{"id":"\x00"}',
    "NUL escaped in every field": lambda: dumps({"id": "a\x00", "case": "\x00", "type": "noted\x00",
                                                 "at": "2026-01-01T00:00:00Z\x00", "staff": "\x00",
                                                 "attrs": {"\x00": "\x00"}}),
    "a 250 KiB string in attrs": lambda: dumps({"id": str(uuid.uuid4()), "case": "huge", "type": "noted",
                                                "at": "2026-01-01T00:00:00Z", "attrs": {"blob": "z" * 250_000}}),
    "a 300 KiB string in attrs (over the limit)": lambda: dumps({"id": "h2", "case": "huge", "type": "noted",
                                                                 "at": "2026-01-01T00:00:00Z",
                                                                 "attrs": {"blob": "z" * 300_000}}),
    "4 MiB of whitespace": lambda: b" " * (4 * MiB),
    "a 200 KiB key": lambda: dumps({"k" * 200_000: 1}),
    "an integer of 5,000 digits": lambda: b'{"id": "i", "case": "c", "type": "noted", "at": "2026-01-01T00:00:00Z",'
                                         b' "attrs": {"n": ' + b"9" * 5000 + b"}}",
    "timestamps at the edges, far past": lambda: dumps([{"id": str(uuid.uuid4()), "case": "edge", "type": "opened",
                                                         "at": at} for at in ("0001-01-02T00:00:00+00:00",
                                                                              "0001-01-01T00:00:00-14:00",
                                                                              "1900-01-01T00:00:00Z")]),
    "timestamps at the edges, far future": lambda: dumps([{"id": str(uuid.uuid4()), "case": "edge", "type": "opened",
                                                           "at": at} for at in ("9999-12-31T23:59:59+14:00",
                                                                                "9999-12-31T23:59:59Z",
                                                                                "3000-01-01T00:00:00Z")]),
    "the empty payload": lambda: b"",
    "an empty batch": lambda: b"[]",
    "a batch of nulls": lambda: b"[null, null, null]",
}


@pytest.mark.parametrize("name", list(HUGE))
def test_huge_deep_and_broken_payloads_are_dead_lettered_with_a_reason(door, name):
    started = time.monotonic()
    check_door(door, [HUGE[name]()])
    assert time.monotonic() - started < 20, "one payload took too long at the door"


# -- known bugs: each input below should be dead-lettered (or stored); today the door raises ------
BOTH = "BUG (SQLite and PostgreSQL): "
PG = "BUG (PostgreSQL): "
RAISES = ("Ingestor.ingest raises instead of dead-lettering; over MQTT the bridge then retries the batch for "
          "ever without acknowledging it, so this one message halts all ingestion (HTTP: 500)")


def _event(**fields) -> dict:
    return {"id": str(uuid.uuid4()), "case": "bug", "type": "noted", "at": "2026-01-01T00:00:00Z", **fields}


KNOWN_BAD = {
    "at in year 1 with a positive offset": (
        BOTH, dumps(_event(at="0001-01-01T00:30:00+01:00")),
        "OverflowError in ingest._validate: data['at'].astimezone(timezone.utc) is below datetime.min. " + RAISES),
    "a start event at 0001-01-01T00:00:00Z": (
        BOTH, dumps(_event(type="opened", at="0001-01-01T00:00:00+00:00")),
        "OverflowError in core.clocks._evaluate_one: start - clock_skew_tolerance (30 s) is below datetime.min. "
        + RAISES),
    "a lone surrogate in the id": (
        BOTH, dumps(_event(id="\ud800")),
        "UnicodeEncodeError when the row is written: marshmallow lets unpaired surrogates (JSON '\\ud800') "
        "through. " + RAISES),
    "a lone surrogate in an attribute, inside a batch": (
        BOTH, dumps([_event(), _event(attrs={"note": "\udfff"})]),
        "UnicodeEncodeError when the row is written; the good event of the batch is lost with it. " + RAISES),
    "a lone surrogate in an unknown field's name": (
        BOTH, dumps(_event(**{"\ud83d": 1})),
        "UnicodeEncodeError writing the dead letter: the reason and the batch item's raw text "
        "(json.dumps(ensure_ascii=False)) carry the surrogate. " + RAISES),
    "a promised_by deadline in year 9999": (
        BOTH, dumps(_event(type="promised", attrs={"promised_by": "9999-12-31T23:59:59+00:00"})),
        "OverflowError in core.calendars.add_counted: with a business-hours calendar the escalation step "
        "(deadline + 1m of open time) walks the calendar past datetime.max. " + RAISES),
    "a promised_by deadline in year 1 with a positive offset": (
        BOTH, dumps(_event(type="promised", attrs={"promised_by": "0001-01-01T00:00:00+05:00"})),
        "OverflowError storing the clock: UTCDateTime converts the deadline to UTC below datetime.min. " + RAISES),
    "an unknown field whose name has a line break": (
        BOTH, dumps(_event(**{"bad\nfield": 1})),
        "the dead letter's reason is two lines ('bad\\nfield: Unknown field.'): schemas.one_line joins keys raw"),
    "an attribute name with a line break": (
        BOTH, dumps(_event(attrs={"a\nb": {"x": 1}})),
        "the dead letter's reason is two lines: schemas._scalar_attrs puts the raw name in its message"),
    "NaN and Infinity in attrs": (
        PG, b'{"id": "%s", "case": "bug", "type": "noted", "at": "2026-01-01T00:00:00Z", '
            b'"attrs": {"v": NaN, "w": -Infinity}}' % uuid.uuid4().hex.encode(),
        "DataError: json.loads accepts NaN/Infinity, PostgreSQL's json type refuses them. " + RAISES),
    "a number too big for a float in attrs": (
        PG, b'{"id": "%s", "case": "bug", "type": "noted", "at": "2026-01-01T00:00:00Z", '
            b'"attrs": {"v": 1e400}}' % uuid.uuid4().hex.encode(),
        "DataError: 1e400 parses to inf, stored as 'Infinity', which PostgreSQL's json refuses. " + RAISES),
    "an unknown field named NUL": (
        PG, b'{"\\u0000": null}',
        "DataError: PostgreSQL text cannot hold NUL, and the dead letter's reason quotes the unknown field's name "
        "raw ('\\x00: Unknown field.'). " + RAISES),
    "a correlation key of 201 characters": (
        PG, dumps(_event(type="ordered", attrs={"order_id": "k" * 201})),
        "DataError: clocks.key and alerts.key are varchar(200); attrs values are unbounded. " + RAISES),
}


def _params(prefix: str):
    return [pytest.param(raw, id=name) for name, (scope, raw, why) in KNOWN_BAD.items() if scope == prefix]


@pytest.mark.parametrize("raw", _params(BOTH))
def test_known_bad_input_is_dead_lettered_on_both_backends(door, raw):
    check_door(door, [raw])


@pytest.mark.parametrize("raw", _params(PG))
def test_known_bad_input_is_dead_lettered_on_postgres(pg_door, raw):
    check_door(pg_door, [raw])


def test_a_status_message_dated_in_year_1_is_dead_lettered(door):
    letters = door.count(DeadLetter)
    statuses = door.count(DeviceStatus)
    door.ingestor.ingest([Delivery(b'{"state": "offline", "at": "0001-01-01T00:30:00+01:00"}',
                                   f"mqtt:{PREFIX}/{SITE}/{DEVICE}/status", site=SITE, device=DEVICE, kind="status")])
    assert door.count(DeadLetter) + door.count(DeviceStatus) == letters + statuses + 1


def test_a_message_on_an_overlong_topic_is_dead_lettered_on_postgres(pg_door):
    letters = pg_door.count(DeadLetter)
    pg_door.ingestor.ingest([Delivery(b"{}", f"mqtt:{PREFIX}/{'s' * 300}/{DEVICE}/events",
                                      refused="topic does not name a valid site and device")])
    assert pg_door.count(DeadLetter) == letters + 1


# -- 4c: memory of the real service under bad input -------------------------------------------------
def _junk(index: int) -> bytes:
    kind = index % 6
    if kind == 0:
        return b"{" + b"x" * (300 * 1024)  # over the 256 KiB limit
    if kind == 1:
        return b'{"id": "' + b"y" * (200 * 1024)  # unparseable, stored whole in the dead letter
    if kind == 2:
        return b"[" * 50_000  # deeper than the JSON parser goes
    if kind == 3:
        return dumps(list(range(10_000)))  # a batch ten times over the limit
    if kind == 4:
        return bytes(range(256)) * 400  # invalid UTF-8 with NULs, 100 KiB
    return dumps([{"id": f"bad-{index}-{i}", "case": "\x00", "type": "Bad!"} for i in range(500)])  # 500 bad events


@pytest.mark.slow
def test_rss_stays_bounded_under_a_flood_of_huge_and_invalid_payloads(tmp_path, broker, standards, services):
    """Two floods of 300 bad payloads each (~35 MiB, ~25,000 dead letters per flood) after a warm-up.

    The bound: the broker hands the service at most Receive Maximum (100) unacknowledged messages,
    and the largest working set one message can make is a 256 KiB batch of 1000 bad events, which
    becomes 1000 dead-letter rows (~2 MiB of Python objects): 100 x 2 MiB = 200 MiB, so the first
    flood may lift RSS by up to 256 MiB. What must not happen is growth with volume: the second
    flood, as big as the first, must add less than 32 MiB (a leak or an unbounded buffer would add
    about as much again)."""
    service = new_service(services, tmp_path, broker, standards, "junk").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url, site=SITE)
    expected = 0
    for i in range(60):
        publisher.publish_raw(_junk(i))
        expected += _junk_dead_letters(i)
    wait_for(lambda: db.dead_letters() == expected, timeout=60, message="warm-up dead-lettered")
    baseline = rss(service.process.pid)
    peaks, started = [], time.monotonic()
    for _flood in range(2):
        sampler = RssSampler(service.process.pid)
        for i in range(300):
            publisher.publish_raw(_junk(i))
            expected += _junk_dead_letters(i)
        wait_for(lambda n=expected: db.dead_letters() == n, timeout=120, message=f"{expected} dead letters")
        peaks.append(sampler.stop())
    growth, creep = peaks[0] - baseline, peaks[1] - peaks[0]
    report("bad-input memory", payloads=600, flood_mib=round(2 * sum(len(_junk(i)) for i in range(300)) / MiB, 1),
           dead_letters=expected, seconds=round(time.monotonic() - started, 1),
           rss_baseline_mib=round(baseline / MiB, 1), first_flood_growth_mib=round(growth / MiB, 1),
           second_flood_growth_mib=round(creep / MiB, 1))
    assert service.healthy()
    assert db.events() == 0
    assert growth < 256 * MiB, f"RSS grew by {growth / MiB:.0f} MiB in the first flood"
    assert creep < 32 * MiB, f"RSS grew by another {creep / MiB:.0f} MiB in a second flood of the same size"
    publisher.close()
    db.dispose()


def _junk_dead_letters(index: int) -> int:
    return 500 if index % 6 == 5 else 1


@pytest.mark.slow
def test_rss_is_bounded_even_for_messages_far_over_the_payload_limit(tmp_path, broker, standards, services):
    path = tmp_path / "giant.db"
    service = new_service(services, tmp_path, broker, standards, "giant", db_url=f"sqlite:///{path}").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url, site=SITE)
    publisher.publish_raw(b"{warm-up")
    wait_for(lambda: db.dead_letters() == 1, timeout=30)
    baseline = rss(service.process.pid)
    lock = sqlite3.connect(path, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # a slow database: nothing is committed, so nothing is acknowledged
    sampler = RssSampler(service.process.pid)
    try:
        for _ in range(40):
            publisher.publish_raw(b"[" + b" " * (6 * MiB) + b"]")
        wait_for(publisher.all_acked, timeout=60)
        # Observation window: the service either takes the messages (memory climbs) or is never sent them.
        window_ends = time.monotonic() + 3
        while time.monotonic() < window_ends and rss(service.process.pid) - baseline < 64 * MiB:
            time.sleep(0.05)
        peak = sampler.stop()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    growth = peak - baseline
    report("oversized-message memory", messages=40, message_mib=6, rss_growth_mib=round(growth / MiB, 1))
    assert growth < 64 * MiB, f"RSS grew by {growth / MiB:.0f} MiB for messages it will only dead-letter"
    # Over the monitor's Maximum Packet Size (mqtt.max_packet_size, 2 MiB) the broker never sends
    # them (MQTT v5 3.1.2.11.4); deployments set the broker's max_packet_size lower, so that the
    # device's publish is refused instead (README, "Production MQTT broker"). A payload under it
    # still arrives and is dead-lettered for its size:
    publisher.publish_raw(b"[" + b" " * (300 * 1024) + b"]")
    wait_for(lambda: db.dead_letters() == 2, timeout=60)
    assert "over the 262144-byte limit" in db.scalar("SELECT reason FROM dead_letters ORDER BY id DESC LIMIT 1")
    publisher.close()
    db.dispose()
