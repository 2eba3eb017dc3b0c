"""Languages (SPEC §6.1) of what a sender is told: standards-file problems (lint, the editor's PUT,
backtest), marshmallow's own validation sentences, the API's body validation and dead letters —
the same places and numbers in English and Chinese, the stored reason in English."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from monitor import i18n
from monitor.core.messages import Message
from monitor.ingest import Delivery
from monitor.loader import StandardsError, load_file_text
from monitor.store.models import DeadLetter
from tests.test_ingest import NOW, event, mqtt
from tests.test_lint import CLEAN
from tests.test_web import page, people, sign_in  # noqa: F401  (people is a fixture)

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "standards_fixtures" / "bad"
CJK = re.compile(r"[\u4e00-\u9fff]")

#: one file with a wrong type, a bad timezone, overlapping windows, an unknown key and a missing key
BROKEN = CLEAN.replace("    stop: greeted\n", "    stop: greeted\n    colour: blue\n").replace(
    "    name: Greet seated guests\n", "").replace("ratio: 0.95", "ratio: '0.95'").replace(
    "standards:\n", "calendars:\n  office:\n    timezone: Asia/Beijing\n"
                    "    weekly: {mon: [\"09:00-12:00\", \"11:30-17:00\"]}\nstandards:\n")


def _numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", text))


def _catalogue_ids() -> set[str]:
    with (i18n.TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id and m.string}


def _ids(message: Message) -> set[str]:
    return {message.id} | {i for v in message.params.values() if isinstance(v, Message) for i in _ids(v)}


def _problems(text: str):
    with pytest.raises(StandardsError) as caught:
        load_file_text("f.yaml", text)
    return caught.value.problems


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.name)
def test_every_problem_of_a_bad_file_is_a_message_id_said_in_both_languages_with_the_same_numbers(path):
    english, chinese = i18n.translator("en"), i18n.translator("zh-CN")
    known = _catalogue_ids()
    for problem in _problems(path.read_text(encoding="utf-8")):
        assert _ids(problem.words) <= known, problem.words
        en, zh = problem.render(english), problem.render(chinese)
        assert en == str(problem) and CJK.search(zh), (en, zh)
        assert _numbers(en) == _numbers(zh), (en, zh)


def test_the_loaders_problems_in_chinese_keep_their_places_and_values():
    problems = _problems(BROKEN)
    chinese = [p.render(i18n.translator("zh-CN")) for p in problems]
    assert [(p.line, p.column) for p in problems] == [(6, 15), (7, 13), (9, 5), (15, 5), (17, 19)]
    assert chinese == [
        "f.yaml:6:15: calendars.office.timezone：未知的时区 'Asia/Beijing'：请使用 IANA 时区名，例如 Asia/Shanghai",
        "f.yaml:7:13: calendars.office.weekly：mon 的时段相互重叠",
        "f.yaml:9:5: standards[0]：缺少必填键 'name'",
        "f.yaml:15:5: standards[0]：未知的键 'colour'",
        "f.yaml:17:19: standards[0].goal.ratio：必须是数字，不能是 '0.95'"]
    assert str(problems[-1]) == "f.yaml:17:19: standards[0].goal.ratio: must be a number, not '0.95'"


def _lint(path: Path, lang: str) -> list[str]:
    env = {**os.environ, "LC_ALL": "", "LC_MESSAGES": "", "LANG": lang}
    done = subprocess.run([sys.executable, "-m", "monitor", "lint", str(path)], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    return done.stdout.splitlines()


def test_lint_says_the_problems_in_the_language_of_lang_at_the_same_places(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    english, chinese = _lint(path, "en_US.UTF-8"), _lint(path, "zh_CN.UTF-8")
    assert len(english) == len(chinese) == 6 and chinese[-1] == "5 个问题：标准未加载。"
    for en, zh in zip(english[:-1], chinese[:-1], strict=True):
        prefix = en[:en.index(": ") + 2]
        assert zh.startswith(prefix) and CJK.search(zh[len(prefix):]) and not CJK.search(en), (en, zh)
        assert _numbers(en) == _numbers(zh), (en, zh)
    assert f"{path}:7:13: calendars.office.weekly：mon 的时段相互重叠" in chinese
    assert f"{path}:7:13: calendars.office.weekly: windows overlap on mon" in english


@pytest.mark.parametrize("url", ["/api/v1/standards/files/floor.yaml", "/api/v1/standards/backtest?file=floor.yaml"])
def test_the_editor_and_backtest_say_the_problems_in_the_request_language(client, admin, url):
    method = client.put if "files" in url else client.post
    chinese = method(url, data=BROKEN, headers={**admin, "Accept-Language": "zh-CN"})
    english = method(url + ("&" if "?" in url else "?") + "lang=en", data=BROKEN,
                     headers={**admin, "Accept-Language": "zh-CN"})
    assert chinese.status_code == english.status_code == 422
    assert chinese.json["error"]["code"] == english.json["error"]["code"] == "invalid_standards"
    assert chinese.json["error"]["message"] == "floor.yaml 被拒绝；未做任何更改"
    places = [{k: d[k] for k in ("file", "line", "column")} for d in english.json["error"]["details"]]
    assert places == [{k: d[k] for k in ("file", "line", "column")} for d in chinese.json["error"]["details"]]
    assert [d["message"] for d in chinese.json["error"]["details"]][-1] == "standards[0].goal.ratio：必须是数字，不能是 '0.95'"
    assert [d["message"] for d in english.json["error"]["details"]][-1] == "standards[0].goal.ratio: must be a number, not '0.95'"


# -- the API's body validation: marshmallow's own sentences ------------------------------------------
def _post_event(client, runtime, body: dict, **headers):
    secret = runtime.config.admin_token
    return client.post("/api/v1/events", data=json.dumps(body),
                       headers={"Authorization": f"Bearer {secret}", **headers})


def _letters(runtime) -> list[DeadLetter]:
    with runtime.db.session() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_a_bad_event_is_refused_in_the_senders_language_and_stored_in_english(client, runtime):
    body = {k: v for k, v in event("e1", colour="red").items() if k != "case"}
    chinese = _post_event(client, runtime, body, **{"Accept-Language": "zh-CN"})
    english = _post_event(client, runtime, body)
    assert chinese.status_code == english.status_code == 422
    assert chinese.json["error"]["code"] == english.json["error"]["code"] == "invalid_events"
    assert chinese.json["error"]["message"] == "数据中没有一个有效事件；详见 details"
    assert chinese.json["error"]["details"]["rejected"] == [{"index": 0, "reason": "case：缺少必填字段；colour：未知字段"}]
    expected = "case: Missing data for required field.; colour: Unknown field."
    assert english.json["error"]["details"]["rejected"] == [{"index": 0, "reason": expected}]
    assert [letter.reason for letter in _letters(runtime)] == [expected, expected]


def test_a_bad_body_is_a_400_in_the_senders_language(client, runtime):
    chinese = client.post("/api/v1/events", data=b"[]", headers={
        "Authorization": f"Bearer {runtime.config.admin_token}", "Accept-Language": "zh-CN"})
    assert chinese.status_code == 400 and chinese.json["error"]["code"] == "bad_payload"
    assert chinese.json["error"]["message"] == "空批次：请至少发送一个事件"
    assert [letter.reason for letter in _letters(runtime)] == ["empty batch: send at least one event"]


# -- dead letters in the reader's language ------------------------------------------------------------
def test_a_dead_letter_is_shown_in_the_readers_language_and_kept_in_english(client, admin, runtime, people):
    runtime.ingestor.ingest([mqtt([event("e1"), event("e2", type_="Seated!")]),
                             mqtt(event("e3", site="sh-02"))], now=NOW)
    stored = [letter.reason for letter in _letters(runtime)]
    assert stored == ["event 1: type: must match [a-z][a-z0-9_.-]{0,63}",
                      "site 'sh-02' does not match the topic's site 'bj-01'"]
    chinese = ["第 1 个事件：type：必须符合 [a-z][a-z0-9_.-]{0,63}", "网点 'sh-02' 与主题中的网点 'bj-01' 不一致"]
    api = client.get("/api/v1/dead-letters", headers={**admin, "Accept-Language": "zh-CN"}).json["items"]
    assert [item["reason"] for item in api] == chinese[::-1]
    default = client.get("/api/v1/dead-letters", headers=admin).json["items"]
    assert [item["reason"] for item in default] == stored[::-1]
    sign_in(client, "olga")
    reasons = [b.all_text() for b in page(client.get("/dead-letters?lang=zh-CN")).find("table").find_all("b")]
    assert reasons == chinese[::-1]
    reasons = [b.all_text() for b in page(client.get("/dead-letters")).find("table").find_all("b")]
    assert reasons == stored[::-1]
    assert [letter.reason for letter in _letters(runtime)] == stored  # reading changed nothing


def test_a_dead_letter_without_words_shows_its_stored_english(client, admin, runtime):
    """Rows from before migration 0008 hold only the English reason."""
    runtime.ingestor.ingest([Delivery(b"{not json", "mqtt:smartmon/v1/bj-01/tab/events", site="bj-01",
                                      device="tab")], now=NOW)
    with runtime.db.session() as session:
        letter = session.scalars(select(DeadLetter)).one()
        letter.words = None
        reason = letter.reason
    item = client.get("/api/v1/dead-letters", headers={**admin, "Accept-Language": "zh-CN"}).json["items"][0]
    assert item["reason"] == reason and reason.startswith("not valid JSON: ")


def test_a_bad_rejudge_body_is_a_400_in_the_senders_language(client, admin):
    url = "/api/v1/standards/greet/rejudge"
    chinese = client.post(url, json={"from": "2026-11-01", "to": "2026-12-01", "dry_run": "yes"},
                          headers={**admin, "Accept-Language": "zh-CN"})
    missing = client.post(url, json={"to": "2026-12-01"}, headers={**admin, "Accept-Language": "zh-CN"})
    english = client.post(url, json={"to": "2026-12-01"}, headers=admin)
    assert chinese.status_code == missing.status_code == english.status_code == 400
    assert chinese.json["error"] == {"code": "bad_request", "message": "dry_run 必须是 true 或 false", "details": None}
    assert missing.json["error"]["message"].startswith("from 为必填：")
    assert english.json["error"]["message"].startswith("from is required: ")
