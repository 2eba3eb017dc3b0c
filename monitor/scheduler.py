"""The deadline scheduler: wakes when a clock falls due and lets the evaluator open its alerts.

Written as single steps (healthchecks' sendalerts): :meth:`Scheduler.step` claims due clocks with
one conditional UPDATE (so several workers never take the same clock), re-evaluates their cases
in the same transaction, commits, and says how many it handled. A test runs one step at a chosen
``now``; :meth:`run` loops over steps and sleeps until the next due time or a wake-up.

One case whose evaluation raises must not stop every alert: the failed transaction would restore
the claimed clocks and the next step would claim the same earliest ones again, forever. So a
failed batch is done again case by case, each in a savepoint, and a case that fails on its own is
parked (its clocks' ``next_due_at`` pushed out by ``park_for``), logged and counted.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from monitor import metrics
from monitor.alerts import Fanout
from monitor.evaluator import CaseEvaluator
from monitor.store.db import TRANSIENT, Database
from monitor.store.models import ClockRow

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, db: Database, evaluator: CaseEvaluator, fanout: Fanout,
                 max_wait: timedelta = timedelta(seconds=1), batch: int = 500,
                 park_for: timedelta = timedelta(minutes=1)) -> None:
        self.db = db
        self.evaluator = evaluator
        self.fanout = fanout
        self.max_wait = max_wait
        self.batch = batch
        self.park_for = park_for
        self._wake = threading.Event()
        self._next_due: datetime | None = None

    def wake(self, due: datetime | None = None) -> None:
        """Ingestion stored a clock due at ``due``: wake up if that is sooner than planned."""
        if due is None or self._next_due is None or due < self._next_due:
            self._wake.set()

    def step(self, now: datetime | None = None) -> int:
        """Handle the clocks due at ``now``; return how many were claimed."""
        now = now or datetime.now(timezone.utc)
        try:
            with self.db.session() as session:
                claimed = session.execute(self._claim(now)).all()
                if not claimed:
                    return 0
                changes, _ = self.evaluator.reevaluate(session, {case for _, case in claimed}, now)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - one bad case: find it, park it, go on with the rest
            log.exception("re-evaluating a batch of due cases failed; retrying them case by case")
            return self._step_case_by_case(now)
        self.fanout.publish(changes)
        return len(claimed)

    def _step_case_by_case(self, now: datetime) -> int:
        changes: list[dict] = []
        with self.db.session() as session:
            claimed = session.execute(self._claim(now)).all()
            clocks_of: dict[str, list[int]] = {}
            for clock_id, case_id in claimed:
                clocks_of.setdefault(case_id, []).append(clock_id)
            for case_id in sorted(clocks_of):
                try:
                    with session.begin_nested():
                        case_changes, _ = self.evaluator.reevaluate(session, {case_id}, now)
                except TRANSIENT:
                    raise
                except Exception as exc:  # noqa: BLE001 - isolate the failing case
                    self._park(session, case_id, clocks_of[case_id], now, exc)
                    continue
                changes += case_changes
        self.fanout.publish(changes)
        return len(claimed)

    def _park(self, session, case_id: str, clock_ids: list[int], now: datetime, exc: Exception) -> None:
        until = now + self.park_for
        session.execute(update(ClockRow).where(ClockRow.id.in_(clock_ids)).values(next_due_at=until))
        metrics.CASES_PARKED.labels("scheduler").inc()
        log.error("case %r could not be re-evaluated (%s: %s); parked until %s, the other cases go on",
                  case_id, type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "", until.isoformat())

    def _claim(self, now: datetime):
        """UPDATE … RETURNING the due clocks, taking each once even with several workers."""
        due = select(ClockRow.id).where(ClockRow.next_due_at <= now).order_by(ClockRow.next_due_at).limit(self.batch)
        if self.db.is_sqlite:  # one writer at a time (BEGIN IMMEDIATE): the IN list is built once
            return (update(ClockRow).where(ClockRow.id.in_(due.scalar_subquery()), ClockRow.next_due_at <= now)
                    .values(next_due_at=None).returning(ClockRow.id, ClockRow.case_id))
        # PostgreSQL plans "id IN (SELECT … LIMIT)" as a nested loop that re-runs the subquery per
        # due row (quadratic: 3 s for 10,000 due); a locked CTE is one pass, and SKIP LOCKED lets
        # another worker take the next clocks instead of waiting.
        locked = due.with_for_update(skip_locked=True).cte("due")
        return (update(ClockRow).where(ClockRow.id == locked.c.id).values(next_due_at=None)
                .returning(ClockRow.id, ClockRow.case_id))

    def next_due(self) -> datetime | None:
        with self.db.read_session() as session:
            return session.scalar(select(func.min(ClockRow.next_due_at)))

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; a database outage is logged and retried, never fatal."""
        while not stop.is_set():
            try:
                while self.step() >= self.batch and not stop.is_set():
                    pass
                self._next_due = self.next_due()
            except Exception:  # noqa: BLE001 - the loop must outlive database outages
                log.exception("scheduler step failed; retrying")
                self._next_due = None
                stop.wait(1.0)
                continue
            wait = self.max_wait.total_seconds()
            if self._next_due is not None:
                wait = min(wait, max(0.0, (self._next_due - datetime.now(timezone.utc)).total_seconds()))
            self._wake.wait(wait)
            self._wake.clear()
