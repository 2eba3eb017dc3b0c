"""``python -m monitor lint``: errors as FILE:LINE:COL, static SMART findings, exit codes for CI."""
from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import pytest

from monitor.lint import main

HERE = Path(__file__).parent
ROOT = HERE.parent
SHIPPED = ROOT / "standards"
GOOD = HERE / "standards_fixtures" / "good"
BAD = HERE / "standards_fixtures" / "bad"
# A fixed day, so the shipped review_by dates do not turn this test red on a calendar date.
TODAY = date(2026, 11, 24)

CLEAN = """\
events:
  seated: Guests sit down
  greeted: A server speaks to the table
standards:
  - id: greet
    name: Greet seated guests
    description: A server speaks to every newly seated table within 2 minutes.
    customer_need: Guests want to feel noticed.
    owner: floor-server
    start: seated
    stop: greeted
    within: 2m
    goal: {ratio: 0.95, per: week}
    review_by: 2027-06-30
"""


def lint(*paths: str | Path, today: date = TODAY) -> tuple[int, str]:
    out = io.StringIO()
    code = main([str(p) for p in paths], today=today, out=out)
    return code, out.getvalue()


def test_the_shipped_standards_directory_lints_clean():
    code, output = lint(SHIPPED)
    assert code == 0, output
    assert " 0 fail, 0 warn" in output


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_file_lints_clean_on_its_own(path):
    code, output = lint(path)
    assert code == 0, output
    assert "warn" not in output.replace("0 warn", "")


def test_the_default_path_is_the_standards_directory(monkeypatch):
    monkeypatch.chdir(ROOT)
    code, output = lint()
    assert code == 0, output
    assert output.startswith(os.path.join("standards", "business-hall.yaml"))


def test_the_good_fixtures_lint_without_a_fail():
    code, output = lint(GOOD)
    assert code == 0, output
    assert "reply-by-promised-date: warn" in output
    assert "achievable warn: A goal of 100% allows not a single miss in a whole period." in output


@pytest.mark.parametrize(
    ("name", "first_line"),
    [
        ("bad_duration.yaml", "bad_duration.yaml:10:13: standards[0].within: bad duration '2 minutes'"),
        ("unknown_key.yaml", "unknown_key.yaml:11:5: standards[0]: unknown key 'withn'"),
        ("undefined_calendar.yaml", "undefined_calendar.yaml:11:15: standards[0].calendar: undefined calendar"),
        ("warn_after_not_shorter.yaml", "warn_after_not_shorter.yaml:11:17: standards[0].warn_after: warn_after must"),
        ("yaml_syntax.yaml", "yaml_syntax.yaml:6:16: YAML syntax error: mapping values are not allowed here"),
        ("wrong_type.yaml", "wrong_type.yaml:11:16: standards[0].cancel_on: must be a list"),
    ],
)
def test_a_validation_error_prints_file_line_column_and_exits_1(name, first_line):
    path = BAD / name
    code, output = lint(path)
    assert code == 1
    assert output.splitlines()[0].startswith(f"{path}:{first_line.split(':', 1)[1]}"), output


def test_files_in_a_directory_are_named_by_the_directory_as_given(monkeypatch):
    monkeypatch.chdir(HERE)
    code, output = lint("standards_fixtures/bad/duplicate-id")
    assert code == 1
    expected = os.path.join("standards_fixtures/bad/duplicate-id", "b-second.yaml") + ":11:9: "
    assert output.splitlines()[0].startswith(expected), output
    assert "duplicate standard id 'greet'" in output


def test_problems_of_several_files_are_all_printed(tmp_path):
    (tmp_path / "a.yaml").write_text((BAD / "bad_duration.yaml").read_text())
    (tmp_path / "b.yaml").write_text((BAD / "unknown_key.yaml").read_text().replace("id: greet", "id: other"))
    code, output = lint(tmp_path)
    lines = output.splitlines()
    assert code == 1
    assert lines[0].startswith(f"{tmp_path / 'a.yaml'}:10:13: ")
    assert lines[1].startswith(f"{tmp_path / 'b.yaml'}:11:5: ")


def test_an_unknown_event_type_is_a_static_specific_fail_and_exits_1(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(CLEAN.replace("stop: greeted", "stop: greeting_done"))
    code, output = lint(path)
    assert code == 1
    assert "  greet: fail" in output
    assert "specific fail: The stop event type 'greeting_done' is declared in no event catalogue." in output


def test_start_equal_to_stop_exits_1(tmp_path):
    path = tmp_path / "same.yaml"
    path.write_text(CLEAN.replace("stop: greeted", "stop: seated"))
    code, output = lint(path)
    assert code == 1 and "starts and stops on the same event type 'seated'" in output


def test_a_past_review_date_exits_1(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(CLEAN)
    assert lint(path, today=date(2027, 7, 1))[0] == 1
    assert lint(path, today=date(2027, 6, 30))[0] == 0


@pytest.mark.parametrize("text", ["Greet seated guests promptly", "尽快问候客人"])
def test_vague_words_warn_but_exit_0(tmp_path, text):
    path = tmp_path / "vague.yaml"
    path.write_text(CLEAN.replace("name: Greet seated guests", f"name: {text}"), encoding="utf-8")
    code, output = lint(path)
    assert code == 0
    assert "  greet: warn" in output and "specific warn: The name uses the vague word" in output


def test_a_clean_file_prints_its_standard_as_pass(tmp_path):
    path = tmp_path / "clean.yaml"
    path.write_text(CLEAN)
    code, output = lint(path)
    assert (code, output.splitlines()[:2]) == (0, [str(path), "  greet: pass"])


def test_a_missing_path_exits_1(tmp_path):
    code, output = lint(tmp_path / "nope.yaml")
    assert code == 1 and f"{tmp_path / 'nope.yaml'}:1:1: no such file or directory" in output


def test_a_file_given_twice_is_read_once(tmp_path):
    path = tmp_path / "clean.yaml"
    path.write_text(CLEAN)
    code, output = lint(tmp_path, path)
    assert code == 0, output


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(CLEAN.replace("Guests sit down", "Gäste").encode("latin-1"))
    code, output = lint(path)
    assert code == 1 and f"{path}:1:1: not UTF-8 text" in output


CHINESE = SHIPPED / "zh"
TEXT_FIELDS = {"name", "description", "customer_need", "owner"}


def test_the_chinese_standards_directory_lints_clean():
    code, output = lint(CHINESE)
    assert code == 0, output
    assert " 0 fail, 0 warn" in output


@pytest.mark.parametrize("name", ["restaurant.yaml", "business-hall.yaml", "complaints.yaml"])
def test_each_chinese_edition_is_its_english_file_in_other_words(name):
    """Same ids, event types, targets, calendars and escalation roles: only the words differ."""
    from ruamel.yaml import YAML

    english, chinese = (YAML(typ="safe").load((folder / name).read_text("utf-8")) for folder in (SHIPPED, CHINESE))
    assert english["events"].keys() == chinese["events"].keys()
    assert english.get("feedback") == chinese.get("feedback")
    assert english.get("calendars") == chinese.get("calendars")
    assert len(english["standards"]) == len(chinese["standards"]) == {"restaurant.yaml": 9}.get(name, len(english["standards"]))
    for en, zh in zip(english["standards"], chinese["standards"]):
        assert {k: v for k, v in en.items() if k not in TEXT_FIELDS} == {k: v for k, v in zh.items() if k not in TEXT_FIELDS}
        assert en.keys() == zh.keys()
        for field in ("name", "description", "customer_need"):
            assert any("\u4e00" <= ch <= "\u9fff" for ch in zh[field]), (zh["id"], field, zh[field])
