"""SMART evaluation on plain data: static checks, the data half, feedback and the JSON shape."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest

from monitor.core.events import Event
from monitor.core.smart import (
    FeedbackCase,
    Observations,
    Status,
    case_outcome,
    case_verdict,
    evaluate,
    find_vague_words,
    static_findings,
    static_grade,
    sustainable_target_s,
    worst,
)
from monitor.core.standards import FeedbackSignal, Goal, Standard, StartCandidate
from tests.builders import greet_standard

TODAY = date(2026, 11, 24)
WINDOW = (datetime(2026, 10, 27, tzinfo=timezone.utc), datetime(2026, 11, 24, tzinfo=timezone.utc))
CATALOGUE = {"seated": "Guests sit down", "greeted": "A server speaks to the table", "left": "Guests leave",
             "drink_ordered": "A drink order", "drink_served": "Drinks arrive"}
GREET = greet_standard(
    goal=Goal(0.9, "week"),
    cancel_on=("left",),
    customer_need="Guests want to feel noticed.",
    owner="floor-server",
    effective=date(2026, 1, 1),
    review_by=date(2027, 6, 30),
    version=3,
)


def english(messages) -> list[str]:
    """Findings and suggestions are message ids with parameters; ``str`` gives the English text."""
    return [str(m) for m in messages]


def static(standard: Standard = GREET, catalogue=CATALOGUE, today: date = TODAY):
    return static_findings(standard, catalogue, today)


def observed(**kwargs) -> Observations:
    defaults = dict(event_counts={"seated": 100, "greeted": 95})
    return Observations(**{**defaults, **kwargs})


# --- static: Specific -------------------------------------------------------------------------


def test_a_clean_standard_passes_every_static_criterion():
    criteria = static()
    assert {name: c.status for name, c in criteria.items()} == {
        "specific": "pass", "measurable": "pass", "achievable": "unknown", "relevant": "pass", "time_bound": "pass",
    }
    assert static_grade(criteria) is Status.PASS


def test_an_undeclared_event_type_fails_specific_naming_it_and_its_role():
    standard = replace(GREET, stop=("greeting_done",), pause_on=("break_started",), resume_on=("greeted",))
    specific = static(standard)["specific"]
    assert specific.status is Status.FAIL
    assert any("stop event type 'greeting_done'" in f for f in english(specific.findings))
    assert any("pause_on event type 'break_started'" in f for f in english(specific.findings))


def test_an_undeclared_unless_event_fails_too():
    standard = replace(GREET, start=(StartCandidate("drink_served"), StartCandidate("seated", unless="drinks_wanted")))
    specific = static(standard)["specific"]
    assert specific.status is Status.FAIL and "unless event type 'drinks_wanted'" in english(specific.findings)[0]


def test_start_equal_to_stop_fails_specific():
    specific = static(replace(GREET, stop=("greeted", "seated")))["specific"]
    assert specific.status is Status.FAIL
    assert "starts and stops on the same event type 'seated'" in english(specific.findings)[0]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Serve drinks promptly", ["promptly"]),
        ("Answer the phone as soon as possible", ["as soon as possible"]),
        ("Reply ASAP and in a timely manner", ["asap", "in a timely manner"]),
        ("Clear plates quickly, right away", ["quickly", "right away"]),
        ("Greet guests immediately", ["immediately"]),
        ("尽快上菜", ["尽快"]),
        ("及时回复客户，马上处理", ["及时", "马上"]),
        ("客人入座后立即问候，迅速点餐，尽早结账", ["立即", "迅速", "尽早"]),
        ("Serve breakfast within 10 minutes", []),
        ("A server speaks to the table within 2 minutes", []),
        ("两分钟内问候客人", []),
    ],
)
def test_vague_words_are_found_in_english_and_chinese(text, words):
    assert find_vague_words(text) == words


@pytest.mark.parametrize(
    ("where", "text"),
    [("name", "Greet guests promptly"), ("description", "A server greets the table as soon as possible."),
     ("name", "及时问候"), ("description", "服务员尽快问候客人。")],
)
def test_vague_words_in_name_or_description_warn(where, text):
    specific = static(replace(GREET, **{where: text}))["specific"]
    assert specific.status is Status.WARN
    assert english(specific.findings)[0].startswith(f"The {where} uses the vague word")
    assert english(specific.suggestions)


def test_vague_words_elsewhere_do_not_count():
    assert static(replace(GREET, customer_need="Guests want to be greeted promptly."))["specific"].status is Status.PASS


# --- static: Measurable, Relevant, Time-bound -------------------------------------------------


def test_a_deadline_attr_without_within_warns_that_some_cases_get_no_deadline():
    measurable = static(replace(GREET, within=None, deadline_attr="promised_by"))["measurable"]
    assert measurable.status is Status.WARN
    assert "'promised_by'" in english(measurable.findings)[0] and "without 'promised_by'" in english(measurable.findings)[1]


def test_a_standard_without_any_target_fails_measurable_and_time_bound():
    criteria = static(replace(GREET, within=None))
    assert criteria["measurable"].status is Status.FAIL and criteria["time_bound"].status is Status.FAIL


@pytest.mark.parametrize(
    ("need", "owner", "status"),
    [("Guests want to feel noticed.", "floor-server", Status.PASS), (None, "floor-server", Status.WARN),
     ("Guests want to feel noticed.", None, Status.WARN), (None, None, Status.FAIL)],
)
def test_relevant_comes_from_customer_need_and_owner(need, owner, status):
    assert static(replace(GREET, customer_need=need, owner=owner))["relevant"].status is status


@pytest.mark.parametrize(
    ("review_by", "status"),
    [(date(2027, 6, 30), Status.PASS), (TODAY, Status.PASS), (TODAY - timedelta(days=1), Status.FAIL), (None, Status.WARN)],
)
def test_time_bound_checks_the_review_date(review_by, status):
    time_bound = static(replace(GREET, review_by=review_by))["time_bound"]
    assert time_bound.status is status
    if status is Status.FAIL:
        assert "2026-11-23 has passed" in english(time_bound.findings)[-1]


def test_a_goal_of_one_hundred_percent_warns_under_achievable():
    achievable = static(replace(GREET, goal=Goal(1.0, "week")))["achievable"]
    assert achievable.status is Status.WARN
    assert static_grade(static(replace(GREET, goal=Goal(1.0, "week")))) is Status.WARN


# --- grade ------------------------------------------------------------------------------------


def test_the_grade_is_the_worst_criterion_fail_warn_unknown_pass():
    assert worst([Status.PASS, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.WARN, Status.PASS]) is Status.WARN
    assert worst([Status.WARN, Status.FAIL, Status.UNKNOWN]) is Status.FAIL
    assert worst([]) is Status.PASS


def test_without_data_the_grade_is_unknown_for_a_clean_standard():
    evaluation = evaluate(GREET, CATALOGUE, TODAY, None, WINDOW)
    assert evaluation.grade is Status.UNKNOWN
    assert evaluation.criteria["measurable"].status is Status.UNKNOWN
    assert evaluation.criteria["achievable"].status is Status.UNKNOWN


# --- sustainable target -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "ratio", "target"),
    [
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9, 90.0),
        ([100, 30, 60, 10, 90, 20, 80, 40, 70, 50], 0.95, 100.0),  # unsorted input; ceil(9.5) = 10th
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.5, 50.0),
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.91, 100.0),  # 9.1 → the 10th: the 9th meets only 90%
        ([42.5], 0.95, 42.5),
        ([5, 7, 9], 0.0, 5.0),
        ([], 0.9, None),
    ],
)
def test_sustainable_target_is_the_nearest_rank_goal_quantile(durations, ratio, target):
    assert sustainable_target_s(durations, ratio) == target


def test_the_sustainable_target_is_met_by_at_least_the_goal_share():
    durations = [31, 7, 88, 15, 15, 60, 45, 12, 300, 29, 33]
    for ratio in (0.5, 0.8, 0.9, 0.95):
        target = sustainable_target_s(durations, ratio)
        assert sum(d <= target for d in durations) / len(durations) >= ratio
        shorter = max((d for d in durations if d < target), default=None)
        if shorter is not None:  # and no shorter observed duration would be
            assert sum(d <= shorter for d in durations) / len(durations) < ratio


# --- data half --------------------------------------------------------------------------------


def test_below_the_goal_achievable_fails_and_suggests_the_sustained_target():
    durations = [60] * 5 + [300] * 10 + [335] * 5
    evaluation = evaluate(GREET, CATALOGUE, TODAY, observed(met=5, missed=15, breached=0, durations_s=durations), WINDOW)
    achievable = evaluation.criteria["achievable"]
    assert achievable.status is Status.FAIL
    assert achievable.numbers == {"observed_ratio": 0.25, "sustainable_target_s": 335.0}
    assert "Met 25% of 20 clocks (5 met, 15 missed, 0 breached), below the goal of 90% per week." in english(achievable.findings)
    assert "set within to 6m to match what the floor sustains, or change the work so that 2m is met" in english(evaluation.suggestions)
    assert evaluation.grade is Status.FAIL


def test_at_the_goal_achievable_passes():
    seen = observed(met=9, missed=1, breached=0, durations_s=[30] * 9 + [200])
    achievable = evaluate(GREET, CATALOGUE, TODAY, seen, WINDOW).criteria["achievable"]
    assert achievable.status is Status.PASS
    assert achievable.numbers == {"observed_ratio": 0.9, "sustainable_target_s": 30.0}


def test_breached_clocks_count_against_the_goal():
    seen = observed(met=9, missed=0, breached=2, durations_s=[30] * 9)
    achievable = evaluate(GREET, CATALOGUE, TODAY, seen, WINDOW).criteria["achievable"]
    assert achievable.status is Status.FAIL and achievable.numbers["observed_ratio"] == round(9 / 11, 4)


def test_with_no_judged_clock_achievable_is_unknown():
    seen = observed(running=3, cancelled=2, event_counts={"seated": 5})
    achievable = evaluate(GREET, CATALOGUE, TODAY, seen, WINDOW).criteria["achievable"]
    assert achievable.status is Status.UNKNOWN
    assert achievable.numbers == {"observed_ratio": None, "sustainable_target_s": None}


def test_measurable_warns_when_start_or_stop_events_are_never_observed():
    measurable = evaluate(GREET, CATALOGUE, TODAY, observed(event_counts={"seated": 12}), WINDOW).criteria["measurable"]
    assert measurable.status is Status.WARN
    assert "No stop event ('greeted') was observed in the window." in english(measurable.findings)


def test_measurable_reports_coverage_and_warns_when_clocks_never_stop():
    seen = observed(met=60, missed=10, cancelled=10, breached=20, running=4)
    measurable = evaluate(GREET, CATALOGUE, TODAY, seen, WINDOW).criteria["measurable"]
    assert measurable.status is Status.WARN and measurable.numbers["coverage"] == 0.8
    assert any("80% of 100 started clocks" in f and "4 still running" in f for f in english(measurable.findings))
    good = evaluate(GREET, CATALOGUE, TODAY, observed(met=95, breached=5), WINDOW).criteria["measurable"]
    assert good.status is Status.PASS and good.numbers["coverage"] == 0.95


def test_observations_from_clocks_leave_data_gaps_apart():
    def clock(state, duration=None, gap=False):
        return SimpleNamespace(state=state, duration_s=duration, data_gap=gap)

    seen = Observations.from_clocks(
        [clock("met", 30), clock("met", 45), clock("missed", 200), clock("breached"), clock("missed", 900, gap=True),
         clock("cancelled"), clock("running")],
        {"seated": 7},
    )
    assert (seen.met, seen.missed, seen.breached, seen.cancelled, seen.running, seen.data_gap) == (2, 1, 1, 1, 1, 1)
    assert seen.durations_s == (30.0, 45.0, 200.0)
    assert seen.judged == 4


# --- feedback (SPEC §4.1) ---------------------------------------------------------------------

SIGNALS = (FeedbackSignal("survey_answered", "score", 4), FeedbackSignal("complaint_received"))


def event(type_: str, **attrs) -> Event:
    return Event(id=f"{type_}-{attrs}", case="table-1", type=type_, at=WINDOW[0], attrs=attrs)


@pytest.mark.parametrize(
    ("events", "verdict"),
    [
        ([event("survey_answered", score=5)], "good"),
        ([event("survey_answered", score=4)], "good"),
        ([event("survey_answered", score=3)], "bad"),
        ([event("survey_answered", score=5), event("complaint_received")], "bad"),
        ([event("complaint_received")], "bad"),
        ([event("seated"), event("greeted")], None),
        ([event("survey_answered")], None),  # no score: says nothing
        ([event("survey_answered", score=5), event("survey_answered", score=1)], "bad"),
    ],
)
def test_a_case_verdict_follows_the_feedback_signals(events, verdict):
    assert case_verdict(events, SIGNALS) == verdict


def test_a_case_with_several_clocks_counts_as_missed_when_any_was():
    assert case_outcome(["met", "missed", "met"]) == "missed"
    assert case_outcome(["met", "breached"]) == "breached"
    assert case_outcome(["met", "cancelled"]) == "met"
    assert case_outcome(["running"]) is None


def cases(met_good: int, met_bad: int, missed_good: int, missed_bad: int, missed_state: str = "missed"):
    return ([FeedbackCase("met", "good")] * met_good + [FeedbackCase("met", "bad")] * met_bad
            + [FeedbackCase(missed_state, None)] * missed_good + [FeedbackCase(missed_state, "bad")] * missed_bad)


def relevant(feedback, standard: Standard = GREET):
    return evaluate(standard, CATALOGUE, TODAY, observed(feedback=feedback), WINDOW).criteria["relevant"]


def test_worse_feedback_after_missed_clocks_supports_relevance():
    result = relevant(cases(met_good=18, met_bad=2, missed_good=12, missed_bad=8, missed_state="breached"))
    assert result.status is Status.PASS
    assert result.numbers == {"bad_share_met": 0.1, "bad_share_missed": 0.4, "cases_met": 20, "cases_missed": 20,
                              "difference": 0.3}
    assert any(f.startswith("Missed clocks go with worse feedback: 40% of 20 missed cases") for f in english(result.findings))


def test_no_worse_feedback_after_missed_clocks_lowers_pass_to_warn():
    result = relevant(cases(met_good=16, met_bad=4, missed_good=16, missed_bad=4))
    assert result.status is Status.WARN and result.numbers["difference"] == 0
    assert any("show no worse feedback" in f for f in english(result.findings))


def test_no_worse_feedback_leaves_a_fail_a_fail():
    result = relevant(cases(16, 4, 16, 4), replace(GREET, customer_need=None, owner=None))
    assert result.status is Status.FAIL


@pytest.mark.parametrize(("met", "missed"), [(19, 40), (40, 19), (5, 5)])
def test_fewer_than_twenty_cases_on_either_side_is_too_thin_and_changes_nothing(met, missed):
    result = relevant(cases(met_good=met, met_bad=0, missed_good=0, missed_bad=missed))
    assert result.status is Status.PASS
    assert any("too thin" in f and f"{met} met and {missed} missed" in f for f in english(result.findings))
    assert "difference" not in result.numbers


def test_thin_evidence_does_not_lower_pass_even_if_missed_looks_better():
    result = relevant(cases(met_good=0, met_bad=19, missed_good=30, missed_bad=0))
    assert result.status is Status.PASS


def test_without_any_feedback_event_there_is_nothing_to_compare():
    result = relevant([FeedbackCase("met", None)] * 30 + [FeedbackCase("missed", None)] * 30)
    assert result.status is Status.PASS
    assert any("No feedback events" in f for f in english(result.findings))


# --- JSON -------------------------------------------------------------------------------------


def test_the_evaluation_json_has_the_spec_shape():
    seen = observed(met=5, missed=15, durations_s=[60] * 5 + [300] * 15)
    document = evaluate(GREET, CATALOGUE, TODAY, seen, WINDOW).to_json()
    assert list(document) == ["standard", "version", "window", "criteria", "suggestions", "grade"]
    assert document["standard"] == "greet-seated-guests" and document["version"] == 3
    assert document["window"] == {"from": "2026-10-27T00:00:00+00:00", "to": "2026-11-24T00:00:00+00:00"}
    assert list(document["criteria"]) == ["specific", "measurable", "achievable", "relevant", "time_bound"]
    for criterion in document["criteria"].values():
        assert criterion["status"] in ("pass", "warn", "fail", "unknown")
        assert criterion["findings"] and all(isinstance(f, str) for f in criterion["findings"])
    achievable = document["criteria"]["achievable"]
    assert achievable["status"] == "fail"
    assert (achievable["observed_ratio"], achievable["sustainable_target_s"]) == (0.25, 300.0)
    assert document["grade"] == "fail"
    assert all(isinstance(s, str) for s in document["suggestions"]) and document["suggestions"]


def test_business_time_targets_are_shown_in_hours_not_days():
    from zoneinfo import ZoneInfo

    from monitor.core.calendars import Calendar

    office = Calendar("office", ZoneInfo("Asia/Shanghai"), {day: ((time(9), time(17)),) for day in range(5)})
    standard = replace(GREET, within=timedelta(hours=24), calendar=office)
    assert "within 24h of business time" in english(static(standard)["measurable"].findings)[0]
    seen = observed(met=2, missed=8, durations_s=[3600] * 2 + [30 * 3600] * 8)
    evaluation = evaluate(standard, CATALOGUE, TODAY, seen, WINDOW)
    assert "set within to 30h to match what the floor sustains, or change the work so that 24h is met" in english(evaluation.suggestions)
    assert any("sustain a target of 108000 s (30h)" in f for f in english(evaluation.criteria["achievable"].findings))
