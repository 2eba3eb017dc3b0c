"""Explicit re-judgement (SPEC §3.2 "versions", §6 ``POST /standards/{id}/rejudge``, §8 ``rejudge``).

Saving a version never changes a clock that started before the save. To apply the version now in
force to past clocks, operations re-judge a window: every clock of the standard that started in
``[from, to)`` — ``to`` capped at now, since a clock that starts later is judged by the version in
force at its start anyway — is judged by that version from then on, and the cases are re-evaluated
at once (their alerts follow: a breach the new version does not call for is retracted).

The re-judgement is a row (who, when, the window, the version, how many clocks it judged and how
many verdicts changed) chained into the audit trail in the same transaction, and it becomes part
of the history every later evaluation — and the audit check's re-derivation — reads. A dry run
does all of it inside a transaction that is rolled back, so it says what would change and changes
nothing. ``POST /standards/backtest`` remains the way to compare a *proposed* file first.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from monitor.core.messages import Message, MessageError, msg
from monitor.core.versions import Rejudgement
from monitor.evaluator import CaseEvaluator
from monitor.registry import Registry
from monitor.reports.params import ReportParamError, parse_bound
from monitor.store import audit, bulk
from monitor.store.db import Database
from monitor.store.models import ClockRow, EventRow
from monitor.store.models import Rejudgement as RejudgementRow
from monitor.serializers import iso

_CASES = 2000  # cases re-evaluated per step: before/after states are compared a chunk at a time


class RejudgeError(MessageError):
    """A re-judgement refused, with the HTTP status it answers with."""

    def __init__(self, status: int, message: Message) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RejudgeResult:
    id: int | None
    standard: str
    file: str
    version: int
    start: datetime
    end: datetime
    by: str
    at: datetime
    clocks: int
    changed: int
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "standard": self.standard, "file": self.file, "version": self.version,
                "from": iso(self.start), "to": iso(self.end), "by": self.by, "at": iso(self.at),
                "clocks": self.clocks, "changed": self.changed, "dry_run": self.dry_run}


class _DryRun(Exception):
    def __init__(self, result: RejudgeResult) -> None:
        super().__init__("dry run")
        self.result = result


def rejudge(db: Database, registry: Registry, evaluator: CaseEvaluator, standard_id: str, start: datetime,
            end: datetime, actor: str, *, dry_run: bool = False, now: datetime | None = None,
            publish=None) -> RejudgeResult:
    """Re-judge the clocks of ``standard_id`` that started in ``[start, end)`` with the version in force now.

    ``publish(changes, due)`` is called after the commit with the alert changes and the earliest
    new due time (the runtime hands them to the channels and the scheduler)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise RejudgeError(400, msg("from and to must be instants with an offset"))
    if start >= end:
        raise RejudgeError(400, msg("to ({end}) must be after from ({start})", end=iso(end), start=iso(start)))
    try:
        with db.session() as session:
            audit.lock_chain(session)  # one writer of the chain: the history cannot move under us
            now = now or datetime.now(timezone.utc)
            history = registry.history_for(session)
            definition = history.latest.get(standard_id)
            if definition is None:
                raise RejudgeError(404, msg("no standard with id {id} is in force: only the version in force now "
                                            "can re-judge", id=repr(standard_id)))
            window_end = min(end, now)
            rejudged = history.with_rejudgement(Rejudgement(standard_id, start, window_end, definition))
            cases = _cases_in_window(session, standard_id, definition.start_types, start, window_end)
            clocks = changed = 0
            changes: list[dict] = []
            due: datetime | None = None
            for begin in range(0, len(cases), _CASES):
                chunk = cases[begin:begin + _CASES]
                before = _verdicts(session, standard_id, chunk, start, window_end)
                step_changes, step_due = evaluator.reevaluate(session, chunk, now, rejudged)
                after = _verdicts(session, standard_id, chunk, start, window_end)
                changes += step_changes
                if step_due is not None and (due is None or step_due < due):
                    due = step_due
                clocks += len(after)
                changed += sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))
            row = {"standard_id": standard_id, "file": definition.file, "version": definition.version,
                   "window_from": start, "window_to": end, "actor": actor, "at": now, "clocks": clocks,
                   "changed": changed}
            result = RejudgeResult(None, standard_id, definition.file, definition.version, start, end, actor, now,
                                   clocks, changed, dry_run)
            if dry_run:
                raise _DryRun(result)  # rolls the transaction back: nothing was changed
            row["id"] = session.execute(insert(RejudgementRow).values(row).returning(RejudgementRow.id)).scalar_one()
            audit.append(session, "rejudgement", [row])
            result = dataclasses.replace(result, id=row["id"])
    except _DryRun as dry:
        return dry.result
    registry.reload()
    if publish is not None:
        publish(changes, due)
    return result


def parse_instant(param: str, value: Any) -> datetime:
    """An RFC 3339 timestamp with an offset, or a date (``2026-11-01``: midnight UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise RejudgeError(400, msg("{param} is required: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 "
                                    "timestamp with an offset", param=param))
    try:
        bound = parse_bound(param, value)
    except ReportParamError as exc:
        raise RejudgeError(400, exc.message) from None
    if isinstance(bound, datetime):
        return bound
    assert isinstance(bound, date)
    return datetime.combine(bound, time(), timezone.utc)


def _cases_in_window(session: Session, standard_id: str, start_types: Iterable[str], start: datetime,
                     end: datetime) -> list[str]:
    """Cases with a clock of the standard, or a start event of the version in force, in the window."""
    cases = set(session.scalars(select(ClockRow.case_id).where(
        ClockRow.standard_id == standard_id, ClockRow.start_at >= start, ClockRow.start_at < end).distinct()))
    types = sorted(set(start_types))
    if types:
        cases.update(session.scalars(select(EventRow.case_id).where(
            bulk.member_of(session, EventRow.type, types), EventRow.at >= start, EventRow.at < end).distinct()))
    return sorted(cases)


def _verdicts(session: Session, standard_id: str, cases: list[str], start: datetime,
              end: datetime) -> dict[tuple[str, str], str]:
    verdicts: dict[tuple[str, str], str] = {}
    for chunk in bulk.chunks(cases):
        for case_id, key, state in session.execute(select(ClockRow.case_id, ClockRow.key, ClockRow.state).where(
                ClockRow.standard_id == standard_id, bulk.member_of(session, ClockRow.case_id, chunk),
                ClockRow.start_at >= start, ClockRow.start_at < end)):
            verdicts[(case_id, key)] = state
    return verdicts
