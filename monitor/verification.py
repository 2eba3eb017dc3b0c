"""``audit verify`` (SPEC §7): the hash chain, then every figure a report is built from.

First the chain (:func:`monitor.store.audit.verify_session`): every event, device status message,
standards version, alert action and re-judgement still hashes to its link. Then, when the chain
holds, the rows derived from those chained rows — which are not chained themselves, since they
change as time passes — are derived again and compared:

* **clocks** (``kind: clock``): for every case, the clocks that the chained events give under the
  chained standards versions and re-judgements (:mod:`monitor.core.versions`, the evaluator's own
  code) with the chained status messages' offline intervals, judged at the instant the stored row
  was last evaluated (its ``updated_at`` — or later, when a chained row proves the case was
  evaluated later: an event's ``received_at``, a system alert action's time). State, start,
  deadline, stop, duration, version, data gap and the rest must be equal, and no clock may be
  missing or extra. ``start_local`` is not compared: it follows the sites' timezones in the
  configuration, which is not chained.
* **alerts** (``kind: alert``): every alert row must equal the alert its last chained action
  recorded (the action log keeps the whole alert after each change), and every action's alert must
  still exist.

The first difference breaks the check and names the row. Everything streams: cases are taken in
ranges of case ids (a few thousand events at a time, one snapshot for the whole check), so memory
stays flat on a large chain; the cost grows with the number of clocks (README: Performance).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.core.calendars import Interval
from monitor.core.clocks import DEFAULT_SKEW, Clock
from monitor.core.events import Event
from monitor.core.versions import History
from monitor.evaluator import case_site, offline_intervals
from monitor.registry import load_history
from monitor.core.messages import Message, msg
from monitor.store import audit, bulk
from monitor.store.db import Database
from monitor.store.models import AlertAction, AlertRow, AuditRecord, ClockRow, EventRow
from monitor.serializers import alert_json

EVENTS_PER_RANGE = 20_000
Progress = Callable[[str, int, int], None]  # (what, done, total)

#: stored column → (name in the reason, the derived clock's value)
CLOCK_FIELDS: tuple[tuple[str, str, Callable[[Clock], Any]], ...] = (
    ("version", "version", lambda c: c.version),
    ("state", "state", lambda c: c.state.value),
    ("start_at", "start", lambda c: c.start),
    ("deadline", "deadline", lambda c: c.deadline),
    ("stop_at", "stop", lambda c: c.stop),
    ("duration_s", "duration_s", lambda c: c.duration_s),
    ("data_gap", "data_gap", lambda c: c.data_gap),
    ("cancelled_at", "cancelled_at", lambda c: c.cancelled_at),
    ("paused_since", "paused_since", lambda c: c.paused_since),
    ("warn_at", "warn_at", lambda c: c.warn_at),
    ("site", "site", lambda c: c.site),
    ("staff", "staff", lambda c: c.staff),
    ("start_event_id", "start_event_id", lambda c: c.start_event_id),
)
ALERT_TIMES = ("due_at", "opened_at", "acknowledged_at", "resolved_at")


@dataclass
class Counts:
    cases: int = 0
    clocks: int = 0
    alerts: int = 0


def verify(db: Database, *, skew: timedelta = DEFAULT_SKEW, progress: Progress | None = None,
           expect_head: str | None = None, events_per_range: int = EVENTS_PER_RANGE) -> audit.Verification:
    """The chain, then the clocks and alerts derived from it, on one snapshot."""
    with db.read_session() as session:
        chained = audit.verify_session(session, (lambda done, total: progress("links", done, total))
                                       if progress else None, expect_head)
        if not chained.ok:
            return chained
        broken = check_figures(session, skew=skew, progress=progress, events_per_range=events_per_range)
        return audit.Verification(broken is None, chained.records, chained.head, broken)


def check_figures(session: Session, *, skew: timedelta = DEFAULT_SKEW, progress: Progress | None = None,
                  events_per_range: int = EVENTS_PER_RANGE, counts: Counts | None = None) -> dict[str, Any] | None:
    """The first clock or alert that differs from what the chained rows give, or None."""
    _, history = load_history(session)
    offline = offline_intervals(session)
    counts = counts if counts is not None else Counts()
    total = session.scalar(select(func.count()).select_from(ClockRow)) or 0
    for lower, upper in _case_ranges(session, events_per_range):
        broken = _check_range(session, history, offline, skew, lower, upper, counts)
        if broken is not None:
            return broken
        if progress:
            progress("clocks", counts.clocks, total)
    broken = _first_orphan_action(session)
    if progress:
        progress("clocks", counts.clocks, total)
    return broken


def _case_ranges(session: Session, size: int) -> Iterator[tuple[str | None, str | None]]:
    """Ranges (lower, upper] of case ids holding about ``size`` events each; the first is open below,
    the last open above, so together they hold every case id — clock or alert rows without events too."""
    lower: str | None = None
    while True:
        query = select(EventRow.case_id).order_by(EventRow.case_id).offset(size - 1).limit(1)
        if lower is not None:
            query = query.where(EventRow.case_id > lower)
        upper = session.scalar(query)
        yield lower, upper
        if upper is None:
            return
        lower = upper


def _in_range(column, lower: str | None, upper: str | None):
    conditions = []
    if lower is not None:
        conditions.append(column > lower)
    if upper is not None:
        conditions.append(column <= upper)
    return conditions


def _check_range(session: Session, history: History, offline: dict[str, list[Interval]], skew: timedelta,
                 lower: str | None, upper: str | None, counts: Counts) -> dict[str, Any] | None:
    connection = session.connection()
    events: dict[str, list[Event]] = defaultdict(list)
    evidence: dict[str, datetime] = {}
    for row in connection.execute(select(EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.site,
                                         EventRow.staff, EventRow.attrs, EventRow.received_at)
                                  .where(*_in_range(EventRow.case_id, lower, upper))):
        events[row.case_id].append(Event(id=row.id, case=row.case_id, type=row.type, at=row.at, site=row.site,
                                         staff=row.staff, attrs=row.attrs or {}))
        if row.case_id not in evidence or row.received_at > evidence[row.case_id]:
            evidence[row.case_id] = row.received_at
    clocks: dict[str, list[Any]] = defaultdict(list)
    for row in connection.execute(select(ClockRow.__table__).where(*_in_range(ClockRow.case_id, lower, upper))):
        clocks[row.case_id].append(row)
    alerts: dict[str, list[Any]] = defaultdict(list)
    for row in connection.execute(select(AlertRow.__table__).where(*_in_range(AlertRow.case_id, lower, upper))):
        alerts[row.case_id].append(row)
    last_action, system_at = _actions(session, [a.id for rows in alerts.values() for a in rows])

    for case_id in sorted(events.keys() | clocks.keys() | alerts.keys()):
        counts.cases += 1
        moments = [r.updated_at for r in clocks.get(case_id, ())]
        moments += [system_at[a.id] for a in alerts.get(case_id, ()) if a.id in system_at]
        if case_id in evidence:
            moments.append(evidence[case_id])
        broken = _check_clocks(history, offline, skew, case_id, events.get(case_id, []), clocks.get(case_id, []),
                               max(moments) if moments else None, counts)
        if broken is None:
            broken = _check_alerts(session, alerts.get(case_id, []), last_action, counts)
        if broken is not None:
            return broken
    return None


def _actions(session: Session, alert_ids: Sequence[str]) -> tuple[dict[str, tuple[int, dict]], dict[str, datetime]]:
    """Per alert: (seq, alert JSON) of its last action, and the time of its last system action (actor
    None: made by an evaluation, so the clock rows were evaluated then too)."""
    latest: dict[str, int] = {}
    system_at: dict[str, datetime] = {}
    for chunk in bulk.chunks(list(alert_ids)):
        for alert_id, seq, actor, at in session.execute(
                select(AlertAction.alert_id, AlertAction.seq, AlertAction.actor, AlertAction.at)
                .where(bulk.member_of(session, AlertAction.alert_id, chunk))):
            if seq > latest.get(alert_id, -1):
                latest[alert_id] = seq
            if actor is None and (alert_id not in system_at or at > system_at[alert_id]):
                system_at[alert_id] = at
    last: dict[str, tuple[int, dict]] = {}
    by_seq = {seq: alert_id for alert_id, seq in latest.items()}
    for chunk in bulk.chunks(list(by_seq)):
        for seq, alert in session.execute(select(AlertAction.seq, AlertAction.alert)
                                          .where(bulk.member_of(session, AlertAction.seq, chunk))):
            last[by_seq[seq]] = (seq, alert)
    return last, system_at


def _describe(standard: str, case_id: str, key: str) -> Message:
    if key:
        return msg("({standard}, case {case}, key {key})", standard=standard, case=repr(case_id), key=repr(key))
    return msg("({standard}, case {case})", standard=standard, case=repr(case_id))


def _check_clocks(history: History, offline: dict[str, list[Interval]], skew: timedelta, case_id: str,
                  case_events: list[Event], rows: list[Any], now: datetime | None,
                  counts: Counts) -> dict[str, Any] | None:
    derived: dict[tuple[str, str], Clock] = {}
    if case_events and now is not None:
        site_offline = offline.get(case_site(case_events), [])
        for standard_id in history.standards_for({e.type for e in case_events}):
            for clock, _ in history.judge(standard_id, case_events, now, offline=site_offline, skew=skew):
                derived[(standard_id, clock.key)] = clock
    stored = {(r.standard_id, r.key): r for r in rows}
    for identity in sorted(stored.keys() | derived.keys()):
        row, clock = stored.get(identity), derived.get(identity)
        name = _describe(identity[0], case_id, identity[1])
        if clock is None:
            return _clock_broken(msg("clock {id} {name} is not given by the chained events and standards versions",
                                     id=row.id, name=name))
        if row is None:
            return _clock_broken(msg("clock {name} is missing: the chained events give a {state} clock "
                                     "(version {version}, start {start})", name=name, state=clock.state.value,
                                     version=clock.version, start=_show(clock.start)))
        counts.clocks += 1
        for column, label, value in CLOCK_FIELDS:
            have, want = getattr(row, column), value(clock)
            if have != want:
                return _clock_broken(msg("clock {id} {name}: {field} is {have}, the chained events and standards "
                                         "versions give {want}", id=row.id, name=name, field=label, have=_show(have),
                                         want=_show(want)))
    return None


def _clock_broken(reason: Message) -> dict[str, Any]:
    return {"seq": None, "kind": "clock", "reason": reason}


def _check_alerts(session: Session, rows: list[Any], last_action: dict[str, tuple[int, dict]],
                  counts: Counts) -> dict[str, Any] | None:
    for row in sorted(rows, key=lambda r: (r.standard_id, r.key, r.kind, r.step, r.id)):
        counts.alerts += 1
        name = msg("alert {id} ({kind} of {standard}, case {case})", id=row.id, kind=row.kind,
                   standard=row.standard_id, case=repr(row.case_id))
        if row.id not in last_action:
            return {"seq": None, "kind": "alert",
                    "reason": msg("{name} has no chained action (inserted behind the service's back)", name=name)}
        seq, recorded = last_action[row.id]
        have, want = _comparable(alert_json(row)), _comparable(recorded)
        for field in want.keys() | have.keys():
            if have.get(field) != want.get(field):
                link = session.scalar(select(AuditRecord.seq).where(AuditRecord.kind == "alert_action",
                                                                    AuditRecord.ref == str(seq)))
                return {"seq": link, "kind": "alert",
                        "reason": msg("{name}: {field} is {have}, its chained actions give {want}", name=name,
                                      field=field, have=_show(have.get(field)), want=_show(want.get(field)))}
    return None


def _comparable(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert JSON with its times as instants (an action written with a +08:00 ``now`` equals the row)."""
    out = dict(alert)
    for name in ALERT_TIMES:
        if isinstance(out.get(name), str):
            try:
                out[name] = datetime.fromisoformat(out[name].replace("Z", "+00:00")).astimezone(timezone.utc)
            except ValueError:
                pass
    return out


def _first_orphan_action(session: Session) -> dict[str, Any] | None:
    """An alert whose row was deleted while its actions stay chained."""
    orphan = session.execute(select(AlertAction.alert_id, AlertAction.seq)
                             .outerjoin(AlertRow, AlertRow.id == AlertAction.alert_id)
                             .where(AlertRow.id.is_(None)).order_by(AlertAction.seq).limit(1)).first()
    if orphan is None:
        return None
    link = session.scalar(select(AuditRecord.seq).where(AuditRecord.kind == "alert_action",
                                                        AuditRecord.ref == str(orphan.seq)))
    return {"seq": link, "kind": "alert",
            "reason": msg("alert {id} was deleted: its chained actions remain", id=orphan.alert_id)}


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return repr(value)
