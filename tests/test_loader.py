"""The standards loader: strict validation, every problem at its file, line and column."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from monitor.core.standards import StartCandidate
from monitor.loader import Problem, StandardsError, load_directory, load_file_text, load_set

FIXTURES = Path(__file__).parent / "standards_fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
SHIPPED = Path(__file__).parent.parent / "standards"

MINIMAL = """\
events:
  seated: Guests sit down
  greeted: A server speaks to the table
standards:
  - id: greet
    name: Greet seated guests
    description: A server speaks to every newly seated table within 2 minutes.
    start: seated
    stop: greeted
    within: 2m
    goal: {ratio: 0.95, per: week}
"""


def problems_of(name: str, text: str) -> list[Problem]:
    with pytest.raises(StandardsError) as caught:
        load_file_text(name, text)
    return caught.value.problems


def bad(name: str) -> list[Problem]:
    return problems_of(name, (BAD / name).read_text(encoding="utf-8"))


# --- good files ---------------------------------------------------------------------------------


def test_it_builds_every_field_of_a_standard():
    loaded = load_file_text("full.yaml", (GOOD / "full.yaml").read_text(encoding="utf-8"), version=7)
    greet, drinks, offer, reply = loaded.standards

    assert (greet.id, greet.file, greet.version) == ("greet-seated-guests", "full.yaml", 7)
    assert greet.start == (StartCandidate("seated"),) and not greet.start_is_first_of
    assert greet.stop == ("greeted",)
    assert (greet.within, greet.warn_after) == (timedelta(minutes=2), timedelta(seconds=90))
    assert greet.cancel_on == ("left",)
    assert [(s.after, s.to, s.even_if_acknowledged) for s in greet.escalate] == [
        (timedelta(minutes=1), "floor-manager", False),
        (timedelta(minutes=5), "restaurant-manager", True),
    ]
    assert greet.applies_to.sites == ("bj-*", "sh-01")
    assert greet.applies_to.where == {"section": "terrace", "vip": True, "party_size": 4}
    assert (greet.goal.ratio, greet.goal.per) == (0.95, "week")
    assert (greet.effective, greet.review_by) == (date(2026, 1, 1), date(2027, 1, 1))
    assert (greet.customer_need, greet.owner) == ("Guests want to feel noticed from the moment they sit down.", "floor-server")

    assert (drinks.repeat, drinks.correlate, drinks.stop) == ("each", "order_id", ("drink_served",))
    assert offer.start_is_first_of
    assert offer.start == (StartCandidate("drink_served"), StartCandidate("seated", unless="drink_ordered"))

    assert reply.deadline_attr == "promised_by" and reply.within == timedelta(days=1)
    assert (reply.pause_on, reply.resume_on) == (("documents_requested",), ("documents_returned",))
    assert reply.calendar is loaded.calendars["branch-hours"]


def test_it_resolves_calendars_into_working_calendar_objects():
    loaded = load_file_text("full.yaml", (GOOD / "full.yaml").read_text(encoding="utf-8"))
    hours = loaded.calendars["branch-hours"]
    assert hours.timezone.key == "Asia/Shanghai"
    assert hours.weekly[0] == ((time(9), time(12)), (time(13), time(17, 30)))
    assert hours.weekly[5] == ((time(9), time(12)),)
    assert 6 not in hours.weekly
    assert hours.is_holiday(date(2026, 10, 1))  # National Day, from the holidays package (CN)
    assert hours.is_holiday(date(2026, 10, 9)) and hours.is_holiday(date(2026, 12, 31))  # listed dates
    assert not hours.is_holiday(date(2026, 11, 24))
    evenings = loaded.calendars["evenings"]
    assert sorted(evenings.weekly) == [4, 5, 6] and evenings.weekly[4] == ((time(18), time(0)),)
    assert evenings.holiday_country is None


def test_it_reads_feedback_signals():
    loaded = load_file_text("full.yaml", (GOOD / "full.yaml").read_text(encoding="utf-8"))
    survey, left = loaded.feedback
    assert (survey.event, survey.score_attr, survey.good_at_least) == ("survey_answered", "score", 4)
    assert (left.event, left.score_attr) == ("left", None)


def test_it_merges_catalogues_across_files_in_a_directory():
    standard_set = load_directory(GOOD)
    assert [f.name for f in standard_set.files] == ["full.yaml", "shared.yaml"]
    assert {"seated", "left", "payment_placed"} <= set(standard_set.catalogue)
    assert standard_set.get("pick-up-payment").file == "shared.yaml"


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_file_loads_on_its_own(path):
    loaded = load_file_text(path.name, path.read_text(encoding="utf-8"))
    assert loaded.standards


def test_an_undeclared_event_type_is_not_a_validation_error():
    loaded = load_file_text("x.yaml", MINIMAL.replace("stop: greeted", "stop: greeting_done"))
    assert loaded.standards[0].stop == ("greeting_done",)


def test_dates_may_be_quoted_and_anchored_booleans_stay_booleans():
    text = MINIMAL + """\
    review_by: "2027-01-01"
    escalate:
      - {after: 1m, to: floor-manager, even_if_acknowledged: &yes true}
      - {after: 2m, to: restaurant-manager, even_if_acknowledged: *yes}
"""
    standard = load_file_text("x.yaml", text).standards[0]
    assert standard.review_by == date(2027, 1, 1)
    assert [step.even_if_acknowledged for step in standard.escalate] == [True, True]


def test_a_window_may_run_to_midnight_and_days_may_share_windows():
    text = MINIMAL.replace("standards:", """\
calendars:
  late:
    timezone: UTC
    weekly: {mon: "20:00-24:00", mon-tue: "08:00-10:00"}
standards:""")
    late = load_file_text("x.yaml", text).calendars["late"]
    assert late.weekly[0] == ((time(8), time(10)), (time(20), time(0)))
    assert late.weekly[1] == ((time(8), time(10)),)
    start = datetime(2026, 11, 23, 21, tzinfo=timezone.utc)  # a Monday
    assert next(late.windows_from(start)) == (start, datetime(2026, 11, 24, tzinfo=timezone.utc))


# --- one bad file per error kind: file, line, column and what is wrong -------------------------

BAD_CASES = [
    ("bad_duration.yaml", 10, 13, "standards[0].within: bad duration '2 minutes'"),
    ("unknown_key.yaml", 11, 5, "standards[0]: unknown key 'withn'"),
    ("warn_after_not_shorter.yaml", 11, 17, "standards[0].warn_after: warn_after must be shorter than within"),
    ("undefined_calendar.yaml", 11, 15, "standards[0].calendar: undefined calendar 'office-hours'"),
    ("yaml_syntax.yaml", 6, 16, "YAML syntax error: mapping values are not allowed here"),
    ("wrong_type.yaml", 11, 16, "standards[0].cancel_on: must be a list"),
    ("duplicate_key.yaml", 11, 5, 'found duplicate key "within"'),
    ("missing_within.yaml", 5, 5, "standards[0].within: within is required unless deadline_attr is given"),
    ("pause_without_resume.yaml", 11, 15, "standards[0].pause_on: pause_on needs resume_on too"),
    ("repeat_without_correlate.yaml", 11, 13, "standards[0].repeat: repeat needs correlate too"),
    ("goal_ratio_out_of_range.yaml", 11, 19, "standards[0].goal.ratio: must be between 0 and 1"),
    ("bad_date.yaml", 11, 16, "standards[0].review_by: bad date '2027-02-30'"),
    ("bad_id.yaml", 5, 9, "standards[0].id: standard id 'Greet_Guests' must match"),
    ("bad_first_of.yaml", 8, 40, "standards[0].start.first_of[0]: unknown key 'unles'"),
    ("escalate_not_bool.yaml", 12, 62, "standards[0].escalate[0].even_if_acknowledged: must be true or false"),
    ("unknown_top_level_key.yaml", 12, 1, "top level: unknown key 'extras'"),
    ("missing_standards.yaml", 1, 1, "top level: missing required key 'standards'"),
    ("bad_event_type.yaml", 2, 3, "events.Seated Guests: event type 'Seated Guests' must match"),
    ("feedback_score_without_threshold.yaml", 4, 42, "feedback[0].score_attr: score_attr and good_at_least go together"),
    ("bad_timezone.yaml", 5, 15, "calendars.office-hours.timezone: unknown timezone 'Asia/Beijing'"),
    ("bad_holiday_country.yaml", 7, 25, "calendars.office-hours.holidays.country: unknown holiday country 'XX'"),
    ("calendar_without_windows.yaml", 6, 13, "calendars.office-hours.weekly: the calendar has no open window"),
    ("bad_weekday.yaml", 6, 14, "calendars.office-hours.weekly.mon-fry: bad day 'mon-fry'"),
    ("overlapping_windows.yaml", 6, 13, "calendars.office-hours.weekly: windows overlap on mon"),
    ("empty.yaml", 1, 1, "the file is empty"),
]


@pytest.mark.parametrize(("name", "line", "column", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_each_error_kind_is_reported_at_its_file_line_and_column(name, line, column, message):
    [problem] = bad(name)
    assert (problem.file, problem.line, problem.column) == (name, line, column)
    assert problem.message.startswith(message), problem.message


def test_every_bad_fixture_is_covered_by_a_case():
    assert {p.name for p in BAD.glob("*.yaml")} == {c[0] for c in BAD_CASES}


def test_a_problem_prints_as_file_line_column_message():
    assert str(Problem("restaurant.yaml", 3, 14, "bad")) == "restaurant.yaml:3:14: bad"
    [problem] = bad("bad_duration.yaml")
    assert str(problem).startswith("bad_duration.yaml:10:13: standards[0].within: bad duration")


def test_all_problems_of_a_file_are_reported_in_one_go():
    text = MINIMAL.replace("within: 2m", "within: 2 min\n    calendar: nope\n    colour: red")
    problems = problems_of("x.yaml", text)
    assert [(p.line, p.column) for p in problems] == [(10, 13), (11, 15), (12, 5)]
    assert "bad duration" in problems[0].message
    assert "undefined calendar 'nope'" in problems[1].message
    assert "unknown key 'colour'" in problems[2].message


def test_a_duplicate_id_in_one_file_names_the_second_occurrence():
    second = MINIMAL.split("standards:\n")[1]
    [problem] = problems_of("x.yaml", MINIMAL + second)
    assert (problem.line, problem.column) == (12, 9)
    assert "duplicate standard id 'greet' (first at line 5)" in problem.message


def test_a_duplicate_id_across_two_files_names_the_second_occurrence():
    with pytest.raises(StandardsError) as caught:
        load_directory(BAD / "duplicate-id")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("b-second.yaml", 11, 9)
    assert "duplicate standard id 'greet', already in a-first.yaml:5" in problem.message


def test_a_set_collects_the_problems_of_every_file():
    texts = {
        "a.yaml": ((BAD / "bad_duration.yaml").read_text(), 1),
        "b.yaml": ((BAD / "unknown_key.yaml").read_text(), 2),
        "c.yaml": (MINIMAL.replace("id: greet", "id: other"), 1),
    }
    with pytest.raises(StandardsError) as caught:
        load_set(texts)
    assert [(p.file, p.line, p.column) for p in caught.value.problems] == [("a.yaml", 10, 13), ("b.yaml", 11, 5)]


def test_calendars_are_looked_up_in_the_standards_own_file_only():
    with_calendar = MINIMAL.replace("standards:", """\
calendars:
  office-hours: {timezone: UTC, weekly: {mon-fri: "09:00-17:00"}}
standards:""").replace("id: greet", "id: other")
    user = MINIMAL.replace("within: 2m", "within: 2m\n    calendar: office-hours")
    with pytest.raises(StandardsError) as caught:
        load_set({"a.yaml": (with_calendar, 1), "b.yaml": (user, 1)})
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("b.yaml", 11, 15)


def test_the_version_given_is_kept_on_every_standard():
    standard_set = load_set({"a.yaml": (MINIMAL, 4)})
    assert standard_set.files[0].version == 4 and standard_set.standards[0].version == 4


@pytest.mark.parametrize(
    ("replace", "by", "line", "column", "message"),
    [
        ("within: 2m", "within: 120", 10, 13, "duration must be text"),
        ("within: 2m", "within: 1h90", 10, 13, "bad duration '1h90'"),
        ("within: 2m", "within: 9999999999d", 10, 13, "duration '9999999999d' is longer than the 3660d limit"),
        ("name: Greet seated guests", "name: [Greet]", 6, 11, "standards[0].name: must be text"),
        ("ratio: 0.95", "ratio: '0.95'", 11, 19, "standards[0].goal.ratio: must be a number"),
        ("per: week", "per: year", 11, 30, "standards[0].goal.per: must be one of day, week, month"),
        ("stop: greeted", "stop: [greeted, Greeted]", 9, 21, "standards[0].stop[1]: event type 'Greeted' must match"),
        ("stop: greeted", "stop: []", 9, 11, "standards[0].stop: must be an event type or a non-empty list"),
        ("start: seated", "start: {first_of: []}", 8, 23, "standards[0].start.first_of: must not be empty"),
        ("start: seated", "start: 3", 8, 12, "standards[0].start: must be an event type or {first_of"),
        ("standards:\n  - id", "standards:\n  - idd", 5, 5, "standards[0]: unknown key 'idd'"),
    ],
)
def test_wrong_values_inline(replace, by, line, column, message):
    problems = problems_of("x.yaml", MINIMAL.replace(replace, by))
    assert any((p.line, p.column) == (line, column) and message in p.message for p in problems), problems


def test_a_file_that_is_not_a_mapping_is_refused():
    [problem] = problems_of("x.yaml", "- just\n- a list\n")
    assert (problem.line, problem.column) == (1, 1) and "not a mapping" in problem.message


def test_a_control_character_is_reported_where_it_is():
    [problem] = problems_of("x.yaml", "events:\n  seated: a\x07b\n")
    assert (problem.line, problem.column) == (2, 12) and "YAML syntax error" in problem.message


def test_a_missing_directory_is_an_error_not_an_empty_set(tmp_path):
    with pytest.raises(StandardsError) as caught:
        load_directory(tmp_path / "nowhere")
    assert "no such directory" in caught.value.problems[0].message


def test_a_second_yaml_document_is_a_syntax_error_at_its_start():
    [problem] = problems_of("x.yaml", MINIMAL + "---\nevents: {}\n")
    assert (problem.line, problem.column) == (12, 1)
    assert problem.message == "YAML syntax error: expected a single document in the stream but found another document"


def test_the_shipped_directory_loads_as_one_set():
    standard_set = load_directory(SHIPPED)
    assert [f.name for f in standard_set.files] == ["business-hall.yaml", "complaints.yaml", "restaurant.yaml"]
    assert len(standard_set.standards) == 17
    assert standard_set.get("keep-promised-reply-date").calendar.name == "complaint-desk"
    assert {s.event for s in standard_set.feedback} >= {"left", "ticket_abandoned", "callback_done"}
