"""SMART evaluation of one standard (SPEC §4, §4.1): is the promise Specific, Measurable,
Achievable, Relevant and Time-bound?

Two halves. ``static_findings`` reads the YAML alone (``lint`` and the editor use it);
``evaluate`` adds what the stored events of a window show, from an ``Observations`` summary the
storage layer fills in. Both are pure: no database, no clock reading — ``today`` and the
window come in as arguments, so every rule is tested with plain data.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping, Sequence

from monitor.core.durations import format_duration
from monitor.core.events import Event
from monitor.core.messages import Message, msg
from monitor.core.standards import FeedbackSignal, Standard


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"


_SEVERITY = {Status.PASS: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.FAIL: 3}
CRITERIA = ("specific", "measurable", "achievable", "relevant", "time_bound")
#: SPEC §4.1: fewer cases than this on either side and the feedback evidence is "too thin".
MIN_FEEDBACK_CASES = 20
#: Below this share of started clocks reaching a decided state, stop events are probably not recorded.
MIN_COVERAGE = 0.9

# Longest first, so "as soon as possible" is reported rather than "soon".
VAGUE_WORDS_EN = (
    "as soon as possible", "as quickly as possible", "in a timely manner", "without delay",
    "right away", "straight away", "at once", "in good time", "asap", "promptly", "prompt",
    "quickly", "quick", "timely", "soon", "shortly", "immediately", "rapidly", "swiftly",
    "speedily", "fast", "reasonable", "reasonably",
)
VAGUE_WORDS_ZH = (
    "第一时间", "尽快", "及时", "马上", "立即", "立刻", "迅速", "尽早", "快速", "随时", "适时",
    "尽量", "很快", "赶快", "从速",
)
_VAGUE_EN = re.compile(r"\b(" + "|".join(re.escape(w) for w in VAGUE_WORDS_EN) + r")\b", re.IGNORECASE)
_VAGUE_ZH = re.compile("|".join(re.escape(w) for w in VAGUE_WORDS_ZH))


#: Words that go into findings as parameters, translated with them.
_ROLE_WORDS = {"start": msg("start"), "unless": msg("unless"), "stop": msg("stop"), "cancel_on": msg("cancel_on"),
               "pause_on": msg("pause_on"), "resume_on": msg("resume_on")}
PERIOD_WORDS = {"day": msg("day"), "week": msg("week"), "month": msg("month")}
#: The names of the criteria and statuses as people read them (the JSON keeps the keys).
CRITERION_WORDS = {"specific": msg("specific"), "measurable": msg("measurable"), "achievable": msg("achievable"),
                   "relevant": msg("relevant"), "time_bound": msg("time_bound")}
STATUS_WORDS = {Status.PASS: msg("pass"), Status.WARN: msg("warn"), Status.FAIL: msg("fail"),
                Status.UNKNOWN: msg("unknown")}


def worst(statuses: Iterable[Status]) -> Status:
    """fail > warn > unknown > pass (SPEC §4)."""
    return max(statuses, key=_SEVERITY.__getitem__, default=Status.PASS)


@dataclass
class Criterion:
    """One SMART criterion: a status, one-sentence findings naming the evidence, optional numbers
    (``observed_ratio``, ``sustainable_target_s`` …) and suggestions for the standard's author."""

    status: Status = Status.PASS
    findings: list[Message] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    suggestions: list[Message] = field(default_factory=list)
    #: The findings that are not a pass, with their own status (what ``lint`` prints).
    issues: list[tuple[Status, Message]] = field(default_factory=list)

    def note(self, finding: Message, status: Status = Status.PASS, suggestion: Message | None = None) -> None:
        """Add a finding; the status only ever gets worse."""
        self.findings.append(finding)
        self.status = worst((self.status, status))
        if status is not Status.PASS:
            self.issues.append((status, finding))
        if suggestion:
            self.suggestions.append(suggestion)

    def to_json(self, render: Callable[[Message], str] = str) -> dict[str, Any]:
        """``render`` words the findings (the edges pass a translator; ``str`` is English)."""
        return {"status": str(self.status), "findings": [render(f) for f in self.findings], **self.numbers}


# ---------------------------------------------------------------------------------------------
# What storage supplies


@dataclass(frozen=True)
class FeedbackCase:
    """One case judged for Relevant: how its clock ended and what the customer said."""

    outcome: str  # "met", or "missed"/"breached"
    verdict: str | None  # "good", "bad", or None when the case has no feedback event


@dataclass
class Observations:
    """What the stored events of the evaluation window show for one standard.

    State counts leave out clocks with a data gap (counted in ``data_gap`` instead), as the
    reports do (SPEC §3.2, §7). ``durations_s`` are the counted durations of stopped clocks
    (met or missed) without a data gap. ``event_counts`` counts events per type in the window
    (types never seen may be absent). ``feedback`` has one entry per case whose clock was met,
    missed or breached.
    """

    met: int = 0
    missed: int = 0
    breached: int = 0
    cancelled: int = 0
    running: int = 0
    paused: int = 0
    data_gap: int = 0
    durations_s: Sequence[float] = ()
    event_counts: Mapping[str, int] = field(default_factory=dict)
    feedback: Sequence[FeedbackCase] = ()

    @property
    def judged(self) -> int:
        """The compliance denominator: met + missed + breached (SPEC §7)."""
        return self.met + self.missed + self.breached

    @classmethod
    def from_clocks(
        cls, clocks: Iterable[Any], event_counts: Mapping[str, int], feedback: Sequence[FeedbackCase] = ()
    ) -> "Observations":
        """Summarise clock objects with ``.state``, ``.duration_s`` and, when storage sets it,
        ``.data_gap``."""
        counts = dict.fromkeys(("met", "missed", "breached", "cancelled", "running", "paused", "data_gap"), 0)
        durations = []
        for clock in clocks:
            if getattr(clock, "data_gap", False):
                counts["data_gap"] += 1
                continue
            state = str(clock.state)
            counts[state] += 1
            if state in ("met", "missed") and clock.duration_s is not None:
                durations.append(float(clock.duration_s))
        return cls(**counts, durations_s=tuple(durations), event_counts=dict(event_counts), feedback=tuple(feedback))


def case_verdict(events: Iterable[Event], signals: Sequence[FeedbackSignal]) -> str | None:
    """SPEC §4.1: ``bad`` when an unscored signal event occurs or a score is below its threshold;
    ``good`` when the case has scored events and none is bad; else None. A scored event without
    a numeric score says nothing and is left out."""
    by_type: dict[str, list[FeedbackSignal]] = {}
    for signal in signals:
        by_type.setdefault(signal.event, []).append(signal)
    scored = False
    for event in events:
        for signal in by_type.get(event.type, ()):
            if signal.is_bad(event):
                return "bad"
            scored = scored or _has_score(event, signal)
    return "good" if scored else None


def _has_score(event: Event, signal: FeedbackSignal) -> bool:
    score = event.attrs.get(signal.score_attr) if signal.score_attr else None
    return isinstance(score, (int, float)) and not isinstance(score, bool)


def case_outcome(states: Iterable[str]) -> str | None:
    """A case with several clocks (``repeat: each``) counts as missed if any clock was missed or
    breached, as met if the rest were met; None when none of its clocks is decided."""
    states = {str(s) for s in states}
    for outcome in ("breached", "missed", "met"):
        if outcome in states:
            return outcome
    return None


def sustainable_target_s(durations_s: Sequence[float], ratio: float) -> float | None:
    """The shortest target that the observed durations would have met at ``ratio``.

    Nearest-rank quantile: the k-th smallest duration with k = ceil(ratio × n) (at least 1).
    Unlike an interpolated quantile it is always an observed duration, and a target equal to it
    is met by at least ``ratio`` of the clocks — the question operations ask.
    """
    return nearest_rank(sorted(durations_s), ratio)


def nearest_rank(ordered: Sequence[float], share: float) -> float | None:
    """The value at rank ceil(share × n) (at least 1) of sorted values, as PostgreSQL's percentile_disc."""
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered) - 1e-9))
    return float(ordered[rank - 1])


def find_vague_words(text: str) -> list[str]:
    """Vague time words in ``text`` (English as whole words, Chinese anywhere), in order, once each."""
    found = [m.group(0).lower() for m in _VAGUE_EN.finditer(text)] + _VAGUE_ZH.findall(text)
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------------------------------------
# Static half


def static_findings(standard: Standard, catalogue: Mapping[str, str], today: date) -> dict[str, Criterion]:
    """The five criteria as far as the YAML alone can tell (Achievable stays ``unknown``)."""
    return {
        "specific": _specific(standard, catalogue),
        "measurable": _measurable_static(standard),
        "achievable": _achievable_static(standard),
        "relevant": _relevant_static(standard),
        "time_bound": _time_bound(standard, today),
    }


def _roles(standard: Standard) -> Iterable[tuple[str, str]]:
    for candidate in standard.start:
        yield "start", candidate.event
        if candidate.unless:
            yield "unless", candidate.unless
    for role in ("stop", "cancel_on", "pause_on", "resume_on"):
        for event_type in getattr(standard, role):
            yield role, event_type


def _specific(standard: Standard, catalogue: Mapping[str, str]) -> Criterion:
    result = Criterion()
    undeclared = {}
    for role, event_type in _roles(standard):
        if event_type not in catalogue:
            undeclared.setdefault(event_type, role)
    for event_type, role in undeclared.items():
        result.note(msg("The {role} event type '{event_type}' is declared in no event catalogue.",
                        role=_ROLE_WORDS[role], event_type=event_type), Status.FAIL,
                    msg("declare '{event_type}' under events: in a standards file, or fix its spelling",
                        event_type=event_type))
    for event_type in sorted(standard.start_types & set(standard.stop)):
        result.note(msg("The clock starts and stops on the same event type '{event_type}'.", event_type=event_type),
                    Status.FAIL,
                    msg("stop the clock on the event that shows the promise was kept, not on the one that starts it"))
    for event_type in sorted(set(standard.cancel_on) & set(standard.stop)):
        result.note(msg("'{event_type}' both stops and cancels the clock, so it is unclear which one it does.",
                        event_type=event_type),
                    Status.WARN, msg("remove '{event_type}' from either stop or cancel_on", event_type=event_type))
    for where in ("name", "description"):
        for word in find_vague_words(getattr(standard, where)):
            if where == "name":
                result.note(msg("The name uses the vague word '{word}'.", word=word), Status.WARN,
                            msg("replace '{word}' in the name with the time it stands for", word=word))
            else:
                result.note(msg("The description uses the vague word '{word}'.", word=word), Status.WARN,
                            msg("replace '{word}' in the description with the time it stands for", word=word))
    if result.status is Status.PASS:
        starts = ", ".join(f"'{t}'" for t in sorted(standard.start_types))
        stops = ", ".join(f"'{t}'" for t in standard.stop)
        result.note(msg("Starts on {starts} and stops on {stops}, all declared, in plain words.",
                        starts=starts, stops=stops))
    return result


def _target_text(standard: Standard) -> Message:
    within = None
    if standard.within is not None:
        duration = _duration_text(standard.within, standard)
        within = (msg("within {duration} of business time", duration=duration) if standard.calendar
                  else msg("within {duration}", duration=duration))
    if not standard.deadline_attr:
        return within
    deadline = msg("by the deadline in the start event's '{attr}' attribute", attr=standard.deadline_attr)
    return msg("{deadline}, else {within}", deadline=deadline, within=within) if within else deadline


def _duration_text(value: timedelta, standard: Standard) -> str:
    """As a standards file writes it; in business time without days, since 24h of business time
    is three 8-hour working days, not "1d"."""
    if standard.calendar is None:
        return format_duration(value)
    hours, rest = divmod(int(value.total_seconds()), 3600)
    return (f"{hours}h" if hours else "") + (format_duration(timedelta(seconds=rest)) if rest else "")


def _measurable_static(standard: Standard) -> Criterion:
    result = Criterion()
    if standard.within is None and standard.deadline_attr is None:
        result.note(msg("There is no numeric target: neither within nor deadline_attr is set."), Status.FAIL,
                    msg("give within: a duration such as 2m"))
        return result
    result.note(msg("The target is numeric: {target}, with a goal of {goal} met per {per}.",
                    target=_target_text(standard), goal=_pct(standard.goal.ratio), per=PERIOD_WORDS[standard.goal.per]))
    if standard.within is None:
        result.note(msg("A start event without '{attr}' gets no deadline at all.", attr=standard.deadline_attr),
                    Status.WARN, msg("add within: as the target for cases that carry no deadline"))
    return result


_NEEDS_DATA = msg("Achievable is judged on observed clocks; the YAML alone cannot show it.")


def _achievable_static(standard: Standard) -> Criterion:
    result = Criterion(Status.UNKNOWN)
    result.findings.append(_NEEDS_DATA)
    if standard.goal.ratio >= 1:
        result.note(msg("A goal of 100% allows not a single miss in a whole period."), Status.WARN,
                    msg("set goal.ratio below 1, e.g. 0.95"))
    elif standard.goal.ratio <= 0:
        result.note(msg("A goal of 0% promises nothing."), Status.WARN, msg("set goal.ratio to the share you promise"))
    return result


def _relevant_static(standard: Standard) -> Criterion:
    result = Criterion()
    given = [name for name in ("customer_need", "owner") if getattr(standard, name)]
    missing = [name for name in ("customer_need", "owner") if not getattr(standard, name)]
    status = {2: Status.PASS, 1: Status.WARN, 0: Status.FAIL}[len(given)]
    if standard.customer_need:
        result.findings.append(msg("Customer need: {need}", need=standard.customer_need))
    if standard.owner:
        result.findings.append(msg("Owned by '{owner}'.", owner=standard.owner))
    if len(missing) == 2:
        result.note(msg("Neither customer_need nor owner is given, so nothing ties the standard to a customer "
                        "or to a person."), status, msg("add customer_need (why the customer cares) and owner (the "
                                                        "role that answers for it)"))
    elif missing == ["owner"]:
        result.note(msg("No owner is given, so no role answers for the standard."), status,
                    msg("add owner: the role that answers for this standard"))
    elif missing:
        result.note(msg("No customer_need is given, so nothing says why the customer cares."), status,
                    msg("add customer_need: what the customer needs that this time limit protects"))
    return result


def _time_bound(standard: Standard, today: date) -> Criterion:
    result = Criterion()
    if standard.within is None and standard.deadline_attr is None:
        result.note(msg("There is no time limit."), Status.FAIL)
    else:
        result.note(msg("The time limit is {target}; the goal is judged per {per}.", target=_target_text(standard),
                        per=PERIOD_WORDS[standard.goal.per]))
    if standard.effective and standard.effective > today:
        result.note(msg("It takes effect on {date}.", date=standard.effective.isoformat()))
    if standard.review_by is None:
        result.note(msg("No review_by date is given, so nobody is due to check the standard still fits."),
                    Status.WARN, msg("add review_by: the date the owner reviews this standard"))
    elif standard.review_by < today:
        result.note(msg("The review date {date} has passed.", date=standard.review_by.isoformat()), Status.FAIL,
                    msg("review the standard with its owner and set a new review_by"))
    else:
        result.note(msg("It is due for review by {date}.", date=standard.review_by.isoformat()))
    return result


# ---------------------------------------------------------------------------------------------
# Data half


@dataclass
class Evaluation:
    standard: str
    version: int
    window: tuple[datetime, datetime]
    criteria: dict[str, Criterion]
    suggestions: list[Message]

    @property
    def grade(self) -> Status:
        return worst(c.status for c in self.criteria.values())

    def to_json(self, render: Callable[[Message], str] = str) -> dict[str, Any]:
        """SPEC §4's JSON shape, plus the overall ``grade``; ``render`` words the findings."""
        start, end = self.window
        return {
            "standard": self.standard,
            "version": self.version,
            "window": {"from": start.isoformat(), "to": end.isoformat()},
            "criteria": {name: self.criteria[name].to_json(render) for name in CRITERIA},
            "suggestions": [render(s) for s in self.suggestions],
            "grade": str(self.grade),
        }


def evaluate(
    standard: Standard,
    catalogue: Mapping[str, str],
    today: date,
    observations: Observations | None,
    window: tuple[datetime, datetime],
) -> Evaluation:
    """Static findings plus the evidence of the window; ``observations`` None means no data."""
    criteria = static_findings(standard, catalogue, today)
    if observations is None:
        criteria["measurable"].note(msg("No stored events were available for this window."), Status.UNKNOWN)
    else:
        _measurable_data(criteria["measurable"], standard, observations)
        _achievable_data(criteria["achievable"], standard, observations)
        _relevant_feedback(criteria["relevant"], observations.feedback)
    suggestions = list(dict.fromkeys(s for name in CRITERIA for s in criteria[name].suggestions))
    return Evaluation(standard.id, standard.version, window, criteria, suggestions)


def static_grade(criteria: Mapping[str, Criterion]) -> Status:
    """The grade the YAML alone supports: criteria that only data can decide (still ``unknown``)
    are left out, so ``lint`` shows ``pass`` for a clean standard."""
    return worst(c.status for c in criteria.values() if c.status is not Status.UNKNOWN)


def _measurable_data(result: Criterion, standard: Standard, seen: Observations) -> None:
    counts = seen.event_counts
    starts = {t: counts.get(t, 0) for t in sorted(standard.start_types)}
    stops = {t: counts.get(t, 0) for t in standard.stop}
    for label, seen_types in (("start", starts), ("stop", stops)):
        names = ", ".join(f"'{t}'" for t in seen_types)
        listed = ", ".join(f"'{t}' ×{n}" for t, n in seen_types.items())
        if label == "start" and not any(seen_types.values()):
            result.note(msg("No start event ({names}) was observed in the window.", names=names), Status.WARN,
                        msg("check that the floor's devices send the start events {names}", names=names))
        elif not any(seen_types.values()):
            result.note(msg("No stop event ({names}) was observed in the window.", names=names), Status.WARN,
                        msg("check that the floor's devices send the stop events {names}", names=names))
        elif label == "start":
            result.note(msg("Start events observed in the window: {listed}.", listed=listed))
        else:
            result.note(msg("Stop events observed in the window: {listed}.", listed=listed))
    decided = seen.met + seen.missed + seen.cancelled
    open_ = seen.breached
    if decided + open_:
        coverage = decided / (decided + open_)
        result.numbers["coverage"] = round(coverage, 4)
        numbers = {"share": _pct(coverage), "started": decided + open_, "open": open_}
        if seen.running or seen.paused:
            text = msg("{share} of {started} started clocks ended met, missed or cancelled; {open} never stopped "
                       "({left_out} still running or paused are left out).",
                       left_out=seen.running + seen.paused, **numbers)
        else:
            text = msg("{share} of {started} started clocks ended met, missed or cancelled; {open} never stopped.",
                       **numbers)
        if coverage < MIN_COVERAGE:
            result.note(text, Status.WARN, msg("find out why {open} clocks never stopped: is every stop event "
                                               "({stops}) recorded?", open=open_, stops=", ".join(standard.stop)))
        else:
            result.note(text)
    if seen.data_gap:
        result.note(msg("{count} clocks fell in a device data gap and are counted apart.", count=seen.data_gap))


def _achievable_data(result: Criterion, standard: Standard, seen: Observations) -> None:
    result.findings.remove(_NEEDS_DATA)
    if result.status is Status.UNKNOWN:  # unknown only for want of data, which is here now
        result.status = Status.PASS
    goal = standard.goal
    target = sustainable_target_s(seen.durations_s, goal.ratio)
    result.numbers["observed_ratio"] = round(seen.met / seen.judged, 4) if seen.judged else None
    result.numbers["sustainable_target_s"] = target
    if not seen.judged:
        result.note(msg("No clock was met, missed or breached in the window, so there is nothing to judge."),
                    Status.UNKNOWN)
    else:
        ratio = seen.met / seen.judged
        numbers = {"share": _pct(ratio), "judged": seen.judged, "met": seen.met, "missed": seen.missed,
                   "breached": seen.breached, "goal": _pct(goal.ratio), "per": PERIOD_WORDS[goal.per]}
        if ratio < goal.ratio:
            result.note(msg("Met {share} of {judged} clocks ({met} met, {missed} missed, {breached} breached), "
                            "below the goal of {goal} per {per}.", **numbers), Status.FAIL, _retarget(standard, target))
        else:
            result.note(msg("Met {share} of {judged} clocks ({met} met, {missed} missed, {breached} breached), "
                            "reaching the goal of {goal} per {per}.", **numbers))
    if target is not None:
        result.note(msg("At the goal of {goal}, the {count} stopped clocks sustain a target of {target}.",
                        goal=_pct(goal.ratio), count=len(seen.durations_s), target=_seconds_text(target, standard)))


def _retarget(standard: Standard, target: float | None) -> Message:
    if target is None:
        return msg("find out why the clocks are not met before changing the target")
    sustained = _duration_text(timedelta(seconds=_round_up(target)), standard)
    if standard.within is not None and target > standard.within.total_seconds():
        return msg("set within to {sustained} to match what the floor sustains, or change the work so that "
                   "{within} is met", sustained=sustained, within=_duration_text(standard.within, standard))
    return msg("promise deadlines at least {sustained} out, which the floor sustains", sustained=sustained)


def _round_up(seconds: float) -> int:
    """A target people can read: whole seconds under 2 minutes, whole minutes under 2 hours,
    else whole hours."""
    for limit, unit in ((120, 1), (7200, 60), (math.inf, 3600)):
        if seconds < limit:
            return int(math.ceil(seconds / unit - 1e-9) * unit) or unit
    raise AssertionError("unreachable")


def _relevant_feedback(result: Criterion, cases: Sequence[FeedbackCase]) -> None:
    """SPEC §4.1: compare the bad-verdict share of met cases with that of missed/breached ones.

    A case without any feedback event counts as not bad (a walk-out or complaint would have
    made it bad), so the shares are over all judged cases on each side.
    """
    if not any(case.verdict for case in cases):
        result.findings.append(msg("No feedback events were observed in the window to compare with the clocks."))
        return
    met = [c for c in cases if c.outcome == "met"]
    missed = [c for c in cases if c.outcome in ("missed", "breached")]
    if len(met) < MIN_FEEDBACK_CASES or len(missed) < MIN_FEEDBACK_CASES:
        result.note(msg("The feedback evidence is too thin: {met} met and {missed} missed cases, fewer than "
                        "{minimum} on at least one side.", met=len(met), missed=len(missed), minimum=MIN_FEEDBACK_CASES))
        return
    share_met, share_missed = _bad_share(met), _bad_share(missed)
    difference = share_missed - share_met
    result.numbers.update(
        bad_share_met=round(share_met, 4), bad_share_missed=round(share_missed, 4),
        cases_met=len(met), cases_missed=len(missed), difference=round(difference, 4),
    )
    shares = msg("{share_missed} of {missed} missed cases had a bad verdict against {share_met} of {met} met "
                 "cases ({points} percentage points)", share_missed=_pct(share_missed), missed=len(missed),
                 share_met=_pct(share_met), met=len(met), points=_points(difference))
    if difference > 0:
        result.note(msg("Missed clocks go with worse feedback: {shares}.", shares=shares))
    else:  # a warn: lowers a pass, leaves a warn or fail as it is
        result.note(msg("Missed clocks show no worse feedback: {shares}.", shares=shares), Status.WARN,
                    msg("check with customers whether this time limit is what they care about"))


def _bad_share(cases: Sequence[FeedbackCase]) -> float:
    return sum(1 for c in cases if c.verdict == "bad") / len(cases)


def _pct(ratio: float) -> str:
    text = f"{ratio * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _points(difference: float) -> str:
    return f"{difference * 100:+.1f}".rstrip("0").rstrip(".")


def _seconds_text(seconds: float, standard: Standard) -> str:
    whole = _duration_text(timedelta(seconds=round(seconds)), standard)
    return f"{seconds:g} s ({whole})" if seconds >= 60 else f"{seconds:g} s"
