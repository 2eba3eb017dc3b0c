"""Judging standards on the stored data: SMART evaluations and back-tests of proposed versions.

The rules live in the pure core (core/smart.py, core/clocks.py); this module only gathers the
window's clocks, event counts and customer verdicts from storage.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.core.clocks import Clock, evaluate as evaluate_clocks
from monitor.core.events import Event
from monitor.core.smart import Evaluation, FeedbackCase, Observations, case_outcome, case_verdict, evaluate
from monitor.core.standards import Standard, StandardSet
from monitor.evaluator import to_event
from monitor.store.models import ClockRow, EventRow

_CHUNK = 500


def smart_evaluation(session: Session, standards: StandardSet, standard: Standard, window: tuple[datetime, datetime],
                     today: date) -> Evaluation:
    """SPEC §4 on the clocks whose start lies in the window."""
    start, end = window
    clocks = session.execute(select(ClockRow.case_id, ClockRow.state, ClockRow.duration_s, ClockRow.data_gap).where(
        ClockRow.standard_id == standard.id, ClockRow.start_at >= start, ClockRow.start_at < end)).all()
    event_counts = dict(session.execute(select(EventRow.type, func.count()).where(
        EventRow.at >= start, EventRow.at < end, EventRow.type.in_(standard.event_types)).group_by(EventRow.type)).all())
    feedback = _feedback_cases(session, standards, clocks)
    observations = Observations.from_clocks(clocks, event_counts, feedback)
    return evaluate(standard, standards.catalogue, today, observations, window)


def _feedback_cases(session: Session, standards: StandardSet, clocks: Iterable[Any]) -> list[FeedbackCase]:
    """Each judged case's outcome next to the customer's verdict (SPEC §4.1)."""
    signals = standards.feedback
    if not signals:
        return []
    states: dict[str, list[str]] = defaultdict(list)
    for clock in clocks:
        if not clock.data_gap:
            states[clock.case_id].append(clock.state)
    outcomes = {case: case_outcome(s) for case, s in states.items()}
    judged = [case for case, outcome in outcomes.items() if outcome in ("met", "missed", "breached")]
    feedback_types = {signal.event for signal in signals}
    verdict_events: dict[str, list[Event]] = defaultdict(list)
    for begin in range(0, len(judged), _CHUNK):
        rows = session.execute(select(EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.site,
                                      EventRow.staff, EventRow.attrs).where(
            EventRow.case_id.in_(judged[begin:begin + _CHUNK]), EventRow.type.in_(feedback_types)))
        for row in rows:
            verdict_events[row.case_id].append(to_event(row))
    return [FeedbackCase(outcomes[case], case_verdict(verdict_events.get(case, []), signals)) for case in judged]


def _cases_started(session: Session, standard: Standard, window: tuple[datetime, datetime], limit: int) -> list[str]:
    start, end = window
    query = select(EventRow.case_id).where(EventRow.type.in_(standard.start_types), EventRow.at >= start,
                                           EventRow.at < end).distinct().limit(limit)
    return list(session.scalars(query))


def _compliance(clocks: list[Clock]) -> dict[str, Any]:
    counts = Counter(str(c.state) for c in clocks if not c.data_gap)
    judged = counts["met"] + counts["missed"] + counts["breached"]
    return {"clocks": len(clocks), "met": counts["met"], "missed": counts["missed"], "breached": counts["breached"],
            "cancelled": counts["cancelled"], "compliance": counts["met"] / judged if judged else None}


def backtest(session: Session, current: StandardSet, proposed: StandardSet, window: tuple[datetime, datetime],
             now: datetime, max_cases: int = 50_000) -> list[dict[str, Any]]:
    """Replay the window's stored events through the proposed and the current standards."""
    results = []
    for standard in proposed.standards:
        before = current.get(standard.id)
        cases = _cases_started(session, standard, window, max_cases)
        new_clocks: list[Clock] = []
        old_clocks: list[Clock] = []
        for begin in range(0, len(cases), _CHUNK):
            events: dict[str, list[Event]] = defaultdict(list)
            for row in session.execute(select(EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.site,
                                              EventRow.staff, EventRow.attrs).where(
                    EventRow.case_id.in_(cases[begin:begin + _CHUNK]))):
                events[row.case_id].append(to_event(row))
            for case_events in events.values():
                new_clocks += _in_window(evaluate_clocks(standard, case_events, now), window)
                if before is not None:
                    old_clocks += _in_window(evaluate_clocks(before, case_events, now), window)
        results.append({"standard": standard.id, "cases": len(cases), "truncated": len(cases) >= max_cases,
                        "proposed": _compliance(new_clocks),
                        "current": _compliance(old_clocks) if before is not None else None})
    return results


def _in_window(clocks: list[Clock], window: tuple[datetime, datetime]) -> list[Clock]:
    return [c for c in clocks if window[0] <= c.start < window[1]]


def default_window(now: datetime, days: int = 28) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now
