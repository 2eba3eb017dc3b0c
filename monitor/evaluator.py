"""Re-evaluate cases: stored events → clocks (pure core) → clock rows and alert changes.

Ingestion calls this for the cases a batch touched, the scheduler for the cases whose clocks fell
due. Both pass one ``now`` for the whole operation. Each clock is judged by the version of its
standard in force at its start (SPEC §3.2, :mod:`monitor.core.versions`), read from the database
inside the caller's transaction.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from monitor.alerts import AlertChanges, apply_plan
from monitor.core.alerting import AlertKey, plan_alerts
from monitor.core.calendars import Interval
from monitor.core.clocks import Clock
from monitor.core.events import Event
from monitor.core.versions import History
from monitor.registry import Registry
from monitor.store import bulk
from monitor.store.models import AlertRow, ClockRow, DeviceStatus, EventRow

_CHUNK = 500
ClockIdentity = tuple[str, str, str]  # (standard, case, correlation key)


def to_event(row: EventRow | Any) -> Event:
    return Event(id=row.id, case=row.case_id, type=row.type, at=row.at, site=row.site, staff=row.staff,
                 attrs=row.attrs or {})


def case_site(events: Sequence[Event]) -> str:
    """The site whose devices' offline intervals a case's clocks are judged with: its earliest event's."""
    return min(events, key=Event.sort_key).site


def offline_intervals(session: Session, sites: Iterable[str] | None = None) -> dict[str, list[Interval]]:
    """Per site, the stretches in which at least one of its devices said it was offline.

    Timed by the monitor's ``received_at`` (SPEC §2), never by the ``at`` a device claims: a Last
    Will reaches the monitor long after the device wrote it, and a backdated ``offline`` would
    otherwise excuse every breach since. ``sites`` None: every site (the audit check).
    """
    query = select(DeviceStatus.site, DeviceStatus.device, DeviceStatus.state, DeviceStatus.received_at)
    if sites is not None:
        query = query.where(bulk.member_of(session, DeviceStatus.site, set(sites)))
    rows = session.execute(query.order_by(DeviceStatus.received_at, DeviceStatus.seq))
    intervals: dict[str, list[Interval]] = defaultdict(list)
    went_offline: dict[tuple[str, str], datetime] = {}
    for site, device, state, at in rows:
        if state == "offline":
            went_offline.setdefault((site, device), at)
        elif (site, device) in went_offline:
            intervals[site].append((went_offline.pop((site, device)), at))
    for (site, _device), since in went_offline.items():
        intervals[site].append((since, None))
    return intervals


@dataclass
class CaseEvaluator:
    registry: Registry
    site_timezone: Callable[[str], ZoneInfo]
    skew: timedelta = timedelta(seconds=30)

    def reevaluate(self, session: Session, case_ids: Iterable[str], now: datetime,
                   history: History | None = None) -> tuple[list[dict], datetime | None]:
        """Bring the clocks and alerts of these cases up to date; return the alert changes and the
        earliest new due time (so the scheduler can wake for it).

        ``history`` (default: as stored, read in this transaction) decides each clock's version.
        """
        history = history or self.registry.history_for(session)
        changes = AlertChanges(session)
        earliest: datetime | None = None
        for chunk in bulk.chunks(sorted(set(case_ids)), _CHUNK):
            due = self._chunk(session, chunk, now, changes, history)
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return changes.flush(), earliest

    def _chunk(self, session: Session, case_ids: Sequence[str], now: datetime, changes: AlertChanges,
               history: History) -> datetime | None:
        events: dict[str, list[Event]] = defaultdict(list)
        columns = (EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.site, EventRow.staff,
                   EventRow.attrs)
        rows = session.connection().execute(select(*columns).where(bulk.member_of(session, EventRow.case_id, case_ids)))
        for row in rows:
            events[row.case_id].append(to_event(row))
        stored = select(ClockRow.id, ClockRow.standard_id, ClockRow.case_id, ClockRow.key, ClockRow.site,
                        ClockRow.version).where(bulk.member_of(session, ClockRow.case_id, case_ids))
        clocks: dict[ClockIdentity, Row] = {
            (r.standard_id, r.case_id, r.key): r for r in session.connection().execute(stored)}
        alerts: dict[ClockIdentity, dict[AlertKey, AlertRow]] = defaultdict(dict)
        for alert in session.scalars(select(AlertRow).where(bulk.member_of(session, AlertRow.case_id, case_ids))):
            alerts[(alert.standard_id, alert.case_id, alert.key)][(alert.kind, alert.step)] = alert
        offline = offline_intervals(session, {e.site for evs in events.values() for e in evs})

        earliest = None
        seen: set[ClockIdentity] = set()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for case_id in case_ids:
            case_events = events.get(case_id, [])
            site_offline = offline.get(case_site(case_events), []) if case_events else []
            for standard_id in history.standards_for({e.type for e in case_events}):
                for clock, standard in history.judge(standard_id, case_events, now, offline=site_offline,
                                                     skew=self.skew):
                    identity = (standard_id, case_id, clock.key)
                    seen.add(identity)
                    plan = plan_alerts(standard, clock, {k: a.state for k, a in alerts[identity].items()}, now)
                    values = self._clock_values(clock, plan.next_due_at, now)
                    row = clocks.get(identity)
                    if row is None:
                        inserts.append({"standard_id": standard_id, "case_id": case_id, "key": clock.key, **values})
                    else:
                        updates.append({"id": row.id, **values})
                    apply_plan(changes, identity, clock, clock.site, standard.version, plan, alerts[identity], now)
                    if plan.next_due_at is not None and (earliest is None or plan.next_due_at < earliest):
                        earliest = plan.next_due_at
        bulk.insert_rows(session, ClockRow, inserts)
        bulk.update_rows(session, ClockRow, updates)
        for identity, row in clocks.items():
            if identity not in seen:
                self._drop(session, identity, row, alerts[identity], changes, now)
        return earliest

    @staticmethod
    def _drop(session: Session, identity: ClockIdentity, row: Row,
              existing: dict[AlertKey, AlertRow], changes: AlertChanges, now: datetime) -> None:
        """The data no longer starts this clock (e.g. a ``first_of`` candidate stopped applying).

        A standard removed from the files still judges the clocks that started before its removal
        (by their own version), so only data — never a removal — takes a clock away."""
        plan = plan_alerts(None, None, {k: a.state for k, a in existing.items()}, now)
        apply_plan(changes, identity, None, row.site, row.version, plan, existing, now)
        session.execute(delete(ClockRow).where(ClockRow.id == row.id))

    def cases_started_after(self, session: Session, history: History, instant: datetime) -> set[str]:
        """Cases stored before ``instant`` with a start event dated after it (a device clock a little
        ahead): a version saved at ``instant`` judges their clocks, so they are judged again."""
        start_types = history.start_types
        if not start_types:
            return set()
        return set(session.scalars(select(EventRow.case_id).where(
            bulk.member_of(session, EventRow.type, start_types), EventRow.at > instant,
            EventRow.received_at <= instant).distinct()))

    def _clock_values(self, clock: Clock, next_due_at: datetime | None, now: datetime) -> dict[str, Any]:
        local = clock.start.astimezone(self.site_timezone(clock.site))
        return {
            "version": clock.version, "site": clock.site, "staff": clock.staff, "state": clock.state.value,
            "start_event_id": clock.start_event_id, "start_at": clock.start,
            "start_local": local.strftime("%Y-%m-%d %H:%M:%S"), "deadline": clock.deadline,
            "warn_at": clock.warn_at, "stop_at": clock.stop, "cancelled_at": clock.cancelled_at,
            "paused_since": clock.paused_since, "duration_s": clock.duration_s, "data_gap": clock.data_gap,
            "next_due_at": next_due_at, "updated_at": now,
        }
