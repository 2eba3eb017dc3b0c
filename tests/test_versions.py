"""Each clock judged by its own version (SPEC §3.2 "versions"): an edit never re-judges a clock that
started before it, running or stopped, whatever events arrive later — on SQLite and PostgreSQL —
and the pure rule (monitor.core.versions) gives the same clocks whatever the order of the events."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.core.events import Event
from monitor.core.standards import StartCandidate
from monitor.core.versions import History, Rejudgement
from monitor.reports.compliance import build_report, site_namer
from monitor.reports.params import report_query
from monitor.store.models import AlertRow, ClockRow
from tests.builders import greet_standard
from tests.conftest import FLOOR, M, S, T, send



@pytest.fixture
def app(installed_app):
    return installed_app


def edit(runtime, at: datetime, text: str | None = None, within: str = "3m") -> int:
    """Operations save floor.yaml at ``at`` with greet's target changed (or ``text``)."""
    return runtime.registry.save("floor.yaml", text or FLOOR.replace("within: 2m\n", f"within: {within}\n", 1),
                                 "ops", now=at)


def clock(runtime, case, standard="greet", key=""):
    with runtime.db.session() as session:
        return session.scalar(select(ClockRow).where(ClockRow.case_id == case, ClockRow.standard_id == standard,
                                                     ClockRow.key == key))


def alerts(runtime, case):
    with runtime.db.session() as session:
        return [(a.kind, a.state, a.version) for a in session.scalars(
            select(AlertRow).where(AlertRow.case_id == case).order_by(AlertRow.due_at, AlertRow.kind))]


def test_an_edit_while_a_clock_runs_leaves_its_verdict_version_and_deadline(runtime, client, admin):
    # the case: missed by 30 s under "within: 2m"; operations save "within: 3m" meanwhile
    send(runtime, ("s1", "t1", "seated", T), now=T)
    assert edit(runtime, T + M) == 2
    send(runtime, ("g1", "t1", "greeted", T + 150 * S), now=T + 150 * S)
    first = clock(runtime, "t1")
    assert (first.state, first.version, first.deadline, first.duration_s) == ("missed", 1, T + 2 * M, 150.0)
    # a table seated after the save is judged by version 2: the same 150 s is met
    send(runtime, ("s2", "t2", "seated", T + 3 * M), ("g2", "t2", "greeted", T + 3 * M + 150 * S))
    second = clock(runtime, "t2")
    assert (second.state, second.version, second.deadline) == ("met", 2, T + 6 * M)
    # GET /cases shows each clock's own version
    body = client.get("/api/v1/cases/t1", headers=admin).json
    assert [(c["standard"], c["version"], c["state"]) for c in body["clocks"]] == [("greet", 1, "missed")]
    assert client.get("/api/v1/cases/t2", headers=admin).json["clocks"][0]["version"] == 2


def test_an_edit_leaves_a_stopped_clock_as_judged_when_more_events_of_its_case_arrive(runtime):
    send(runtime, ("s1", "t1", "seated", T), ("g1", "t1", "greeted", T + 150 * S))
    assert (clock(runtime, "t1").state, clock(runtime, "t1").version) == ("missed", 1)
    edit(runtime, T + 3 * M)
    # later events of the same case (a drink order, a resend, a late duplicate) re-evaluate the case
    send(runtime, ("o1", "t1", "drink_ordered", T + 4 * M, {"attrs": {"order_id": "A"}}),
         ("g1", "t1", "greeted", T + 150 * S), now=T + 4 * M)
    again = clock(runtime, "t1")
    assert (again.state, again.version, again.deadline, again.duration_s) == ("missed", 1, T + 2 * M, 150.0)
    assert clock(runtime, "t1", "drinks", "A").version == 2  # the new clock of that case: the version of its start


def test_an_edit_leaves_a_running_clock_to_breach_by_its_own_deadline(runtime):
    send(runtime, ("s1", "t1", "seated", T), now=T)
    edit(runtime, T + M, within="10m")
    runtime.scheduler.step(T + 2 * M + S)
    running = clock(runtime, "t1")
    assert (running.state, running.version, running.deadline) == ("breached", 1, T + 2 * M)
    assert ("breach", "open", 1) in alerts(runtime, "t1")
    # the stop arrives late: still judged by version 1 (missed), the breach resolved, not retracted
    send(runtime, ("g1", "t1", "greeted", T + 5 * M), now=T + 5 * M)
    stopped = clock(runtime, "t1")
    assert (stopped.state, stopped.version) == ("missed", 1)
    assert ("breach", "resolved", 1) in alerts(runtime, "t1")


def test_a_clock_dated_a_little_ahead_is_judged_by_the_version_saved_before_its_start(runtime):
    # a tablet 2 minutes ahead: its seating, stored before the save, starts after it
    send(runtime, ("s1", "t1", "seated", T + 2 * M), now=T)
    assert clock(runtime, "t1").version == 1
    edit(runtime, T + M)
    assert (clock(runtime, "t1").version, clock(runtime, "t1").deadline) == (2, T + 5 * M)


def test_a_removed_standard_starts_no_clock_and_keeps_judging_its_old_ones(runtime):
    without_drinks = FLOOR[:FLOOR.index("  - id: drinks")] + FLOOR[FLOOR.index("  - id: call-ticket"):]
    send(runtime, ("o1", "t1", "drink_ordered", T, {"attrs": {"order_id": "A"}}), now=T)
    edit(runtime, T + M, text=without_drinks)
    assert runtime.registry.current.get("drinks") is None
    send(runtime, ("v1", "t1", "drink_served", T + 3 * M, {"attrs": {"order_id": "A"}}),
         ("o2", "t1", "drink_ordered", T + 3 * M, {"attrs": {"order_id": "B"}}),
         ("o3", "t2", "drink_ordered", T + 3 * M, {"attrs": {"order_id": "C"}}))
    kept = clock(runtime, "t1", "drinks", "A")
    assert (kept.state, kept.version, kept.duration_s) == ("met", 1, 180.0)
    assert clock(runtime, "t1", "drinks", "B") is None and clock(runtime, "t2", "drinks", "C") is None


def test_reports_show_the_versions_that_judged_the_period(runtime):
    send(runtime, ("s1", "t1", "seated", T), ("g1", "t1", "greeted", T + 150 * S))
    edit(runtime, T + 3 * M)
    send(runtime, ("s2", "t2", "seated", T + 4 * M), ("g2", "t2", "greeted", T + 4 * M + 150 * S))
    document = build_report(runtime.db, runtime.registry.current, report_query("2026-11-24", "2026-11-25"),
                            site_namer(runtime.config)).to_json()
    greet = next(e for e in document["standards"] if e["standard"] == "greet")
    assert (greet["versions"], greet["version_in_force"]) == ([1, 2], 2)
    assert (greet["total"]["met"], greet["total"]["missed"]) == (1, 1)


# -- the pure rule ---------------------------------------------------------------------------------
BASE = T
V1 = greet_standard(id="greet", version=1, within=timedelta(minutes=2), cancel_on=("left",))
V2 = dataclasses.replace(V1, version=2, within=timedelta(minutes=3))
V3 = dataclasses.replace(V1, version=3, start=(StartCandidate("greeted_late"), StartCandidate("seated")),
                         stop=("greeted",), within=timedelta(minutes=1))


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def history(saves: list[int], removed_at: int | None = None, rejudged: tuple[int, int] | None = None) -> History:
    changes = [(at(-3600), {"greet": V1})]
    for definition, second in zip((V2, V3), sorted(saves)):
        changes.append((at(second), {"greet": definition}))
    if removed_at is not None:
        changes.append((max(at(removed_at), changes[-1][0]), {}))
    rejudgements = []
    if rejudged is not None:
        low, high = sorted(rejudged)
        rejudgements.append(Rejudgement("greet", at(low), at(high), V2))
    return History(changes, rejudgements)


def test_the_version_in_force_is_the_last_saved_strictly_before_the_start():
    h = history([60, 120])
    assert h.version_for("greet", at(0)) is V1
    assert h.version_for("greet", at(60)) is V1  # saved at the very instant: not before it
    assert h.version_for("greet", at(61)) is V2
    assert h.version_for("greet", at(500)) is V3
    assert h.version_for("greet", at(-10 ** 7)) is V1  # before the first save of all: the first version
    assert history([60], removed_at=90).version_for("greet", at(100)) is None
    assert history([60], rejudged=(0, 30)).version_for("greet", at(10)) is V2


def test_a_clock_is_judged_by_the_version_of_its_own_start_not_of_later_events():
    events = [Event("s", "c", "seated", at(0)), Event("g", "c", "greeted", at(150))]
    [(judged, definition)] = history([60]).judge("greet", events, at(1000))
    assert (definition.version, judged.version, judged.state.value, judged.deadline) == (1, 1, "missed", at(120))
    [(later, _)] = history([-60]).judge("greet", events, at(1000))  # saved before the seating: version 2
    assert (later.version, later.state.value) == (2, "met")


SPEC_TYPES = ["seated", "greeted", "greeted_late", "left"]


@settings(max_examples=300, deadline=None)
@given(
    saves=st.lists(st.integers(-120, 900), min_size=0, max_size=2),
    removed=st.one_of(st.none(), st.integers(-120, 900)),
    rejudged=st.one_of(st.none(), st.tuples(st.integers(-120, 900), st.integers(-120, 900))),
    specs=st.lists(st.tuples(st.sampled_from(SPEC_TYPES), st.integers(-60, 900)), max_size=10),
    now_s=st.integers(0, 1200),
    data=st.data(),
)
def test_versions_in_play_give_the_same_clocks_whatever_the_order_and_duplicates(saves, removed, rejudged, specs,
                                                                                 now_s, data):
    h = history(saves, removed, rejudged)
    events = [Event(id=f"e{i}", case="c", type=type_, at=at(second), site="bj-01")
              for i, (type_, second) in enumerate(specs)]
    resent = [dataclasses.replace(e) for e in data.draw(st.lists(st.sampled_from(events), max_size=5))] if events else []
    scrambled = data.draw(st.permutations(events + resent))
    offline = [(at(100), at(200))]
    expected = h.judge("greet", events, at(now_s), offline=offline)
    assert h.judge("greet", scrambled, at(now_s), offline=offline) == expected
    for judged, definition in expected:  # and each clock carries the version in force at its start
        assert h.version_for("greet", judged.start) is definition and judged.version == definition.version
