"""Languages (SPEC §6.1): the catalogues are complete and compiled, and each request speaks the
language picked by ?lang=, then the user's saved choice, then Accept-Language."""
from __future__ import annotations

import gettext
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from monitor import i18n, lint
from monitor.core.smart import evaluate
from tests.test_lint import CLEAN
from tests.test_web import page, people, sign_in  # noqa: F401  (people is a fixture)

ROOT = Path(__file__).resolve().parents[1]
PO = i18n.TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def _catalogue():
    with PO.open("rb") as handle:
        return read_po(handle)


def test_every_message_id_of_the_code_and_templates_is_in_the_chinese_catalogue_translated(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "extract", "-F", "babel.cfg",
                    "-k", "msg", "-k", "_l", "-o", str(pot), "."], cwd=ROOT, check=True)
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    translated = {m.id for m in _catalogue() if m.id and _done(m)}
    assert wanted, "extraction found no message ids"
    assert sorted(wanted - translated) == [], "untranslated in zh_CN: refresh the catalogue (README, Languages)"


def _done(message) -> bool:
    """Translated, every plural form included, and not fuzzy."""
    forms = (message.string,) if isinstance(message.string, str) else message.string
    return all(forms) and "fuzzy" not in message.flags


def test_the_compiled_catalogue_is_up_to_date_with_the_po_file():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for m in _catalogue():
        if m.id and _done(m):
            if m.pluralizable:  # gettext keys each plural form by (singular, index)
                expected.update({(m.id[0], i): form for i, form in enumerate(m.string)})
            else:
                expected[m.id] = m.string
    assert {k: v for k, v in compiled.items() if k} == expected, "run pybabel compile -d monitor/translations"


@pytest.mark.parametrize("value, tag", [("zh-CN", "zh-CN"), ("zh_CN.UTF-8", "zh-CN"), ("zh", "zh-CN"),
                                        ("en_US.UTF-8", "en"), ("C", None), ("fr", None), ("", None)])
def test_language_tags_are_read_from_web_and_posix_spellings(value, tag):
    assert i18n.parse_tag(value) == tag


def test_the_cli_language_follows_lc_all_before_lang():
    assert i18n.environment_tag({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}) == "zh-CN"
    assert i18n.environment_tag({"LANG": "zh_CN.UTF-8"}) == "zh-CN"
    assert i18n.environment_tag({}) == "en"


def test_durations_are_worded_by_babel_in_each_language():
    assert i18n.duration_words(150, "zh-CN") == "2分钟30秒"
    assert i18n.duration_words(150, "en") == "2 min 30 sec"
    assert i18n.duration_words(3 * 86400 + 5 * 3600 + 7, "zh-CN") == "3天5小时"
    assert i18n.duration_words(0, "en") == "0 sec"


def _menu(response) -> tuple[str, list[str]]:
    root = page(response)
    nav = root.find("nav")
    return root.find("html").attrs["lang"], [a.all_text().strip() for a in nav.find_all("a")]


def test_accept_language_then_lang_parameter_choose_the_page_language(client, people):
    sign_in(client, "root")
    assert _menu(client.get("/standards", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})) == (
        "zh-CN", ["看板", "服务标准", "报表", "审计", "死信"])
    assert _menu(client.get("/standards?lang=en", headers={"Accept-Language": "zh-CN"})) == (
        "en", ["Board", "Standards", "Reports", "Audit", "Dead letters"])
    assert _menu(client.get("/standards", headers={"Accept-Language": "fr, en;q=0.1"}))[0] == "en"


def test_the_menu_switch_is_saved_on_the_user_and_outranks_the_browser(client, people, runtime):
    sign_in(client, "mei")
    response = client.post("/language", data={"lang": "zh-CN", "return_to": "/standards"})
    assert response.status_code == 302 and response.headers["Location"] == "/standards"
    assert _menu(client.get("/standards", headers={"Accept-Language": "en"}))[0] == "zh-CN"
    assert _menu(client.get("/standards?lang=en"))[0] == "en"  # ?lang= still wins
    client.get("/logout")
    sign_in(client, "mei")  # saved on the user's row, not in the session
    assert _menu(client.get("/standards", headers={"Accept-Language": "en"}))[0] == "zh-CN"
    client.post("/language", data={"lang": "en", "return_to": "/standards"})
    assert _menu(client.get("/standards", headers={"Accept-Language": "zh-CN"}))[0] == "en"


# -- findings and lint messages: message ids with parameters --------------------------------------
def _numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", text))


def test_smart_findings_and_suggestions_say_the_same_numbers_in_both_languages():
    from tests.test_smart import CATALOGUE, GREET, TODAY, WINDOW, observed

    durations = [60] * 5 + [300] * 10 + [335] * 5
    evaluation = evaluate(GREET, CATALOGUE, TODAY, observed(met=5, missed=15, breached=0, durations_s=durations), WINDOW)
    english, chinese = evaluation.to_json(i18n.translator("en")), evaluation.to_json(i18n.translator("zh-CN"))
    pairs = [(e, c) for name in english["criteria"]
             for e, c in zip(english["criteria"][name]["findings"], chinese["criteria"][name]["findings"], strict=True)]
    pairs += list(zip(english["suggestions"], chinese["suggestions"], strict=True))
    assert len(pairs) > 10
    for en, zh in pairs:
        assert en != zh and re.search(r"[\u4e00-\u9fff]", zh), (en, zh)
        assert _numbers(en) == _numbers(zh), (en, zh)
    assert "20 个计时中达标 25%（达标 5 个，超时完成 15 个，超时未完成 0 个），低于每周 90% 的目标。" in \
        chinese["criteria"]["achievable"]["findings"]
    assert "Met 25% of 20 clocks (5 met, 15 missed, 0 breached), below the goal of 90% per week." in \
        english["criteria"]["achievable"]["findings"]


def test_the_smart_api_answers_in_the_language_asked_for(client, admin):
    url = "/api/v1/standards/greet/smart"
    chinese = client.get(url, headers={**admin, "Accept-Language": "zh-CN"}).json
    english = client.get(url + "?lang=en", headers={**admin, "Accept-Language": "zh-CN"}).json
    assert list(chinese["criteria"]) == list(english["criteria"])  # keys stay as the SPEC names them
    assert chinese["criteria"]["measurable"]["findings"][0].startswith("时限是明确的数字")
    assert english["criteria"]["measurable"]["findings"][0].startswith("The target is numeric")


# the lint tests' clean file with one unknown key: line 12, column 5
LINT_FILE = CLEAN.replace("    stop: greeted\n", "    stop: greeted\n    colour: blue\n")


@pytest.mark.parametrize("language, expected", [
    ("en", "standards[0]: unknown key 'colour'"), ("zh-CN", "standards[0]：未知的键 'colour'")])
def test_a_lint_error_keeps_its_file_line_column_prefix_in_both_languages(tmp_path, language, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(LINT_FILE)
    out = io.StringIO()
    assert lint.main([str(path)], out=out, language=language) == 1
    first, summary = out.getvalue().splitlines()
    assert first == f"{path}:12:5: {expected}"
    assert summary == {"en": "1 problem(s): the standards were not loaded.", "zh-CN": "1 个问题：标准未加载。"}[language]


def test_lint_follows_lang_on_the_command_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(CLEAN.replace("stop: greeted", "stop: greeting_done"))
    env = {**os.environ, "LC_ALL": "", "LANG": "zh_CN.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "monitor", "lint", str(path)], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert "    具体 不合格: 停止事件类型“greeting_done”未在任何事件目录中声明。" in done.stdout
    assert "1 条不合格" in done.stdout


# -- exports in the report's language --------------------------------------------------------------
def _chinese_report():
    from monitor.core.standards import StandardSet  # noqa: F401  (the zh files load as the service does)
    from monitor.loader import load_directory
    from monitor.reports.document import ComplianceReport, Counts, Durations, Period, Row, Site, StandardReport

    greet = next(s for s in load_directory(ROOT / "standards" / "zh").standards if s.id == "greet-seated-guests")
    counts = Counts(met=5, missed=2, breached=1)
    total = Row({}, counts, Durations(mean_s=70.0, p50_s=60.0, p90_s=150.0, p95_s=150.0, max_s=150.0), False)
    entry = StandardReport(standard=greet.id, versions=(1,), goal_ratio=greet.goal.ratio, rows=(total,),
                           name=greet.name, file="restaurant.yaml", version_in_force=1, goal_per=greet.goal.per,
                           total=total, periods=(Period("2026-W48", counts, False),),
                           daily=(Period("2026-11-24", counts, False),))
    return greet, ComplianceReport(start="2026-11-24", end="2026-12-01", chain_head="ab" * 32, standards=(entry,),
                                   group_by=(), sites=(Site("bj-01", "北京饭店 · 中餐厅", "Asia/Shanghai"),),
                                   generated_at="2026-12-01T00:00:00Z")


def _embedded_fonts(reader) -> dict[str, bool]:
    """Every font the pages use → whether its program is embedded (FontFile, FontFile2 or FontFile3)."""
    found = {}
    for pdf_page in reader.pages:
        for font in pdf_page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            found[str(font["/BaseFont"])] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


def test_a_chinese_pdf_gives_its_words_back_from_the_text_layer_with_an_embedded_cjk_font():
    from pypdf import PdfReader

    from monitor.reports.pdf import to_pdf

    greet, document = _chinese_report()
    reader = PdfReader(io.BytesIO(to_pdf(document, "zh-CN")))
    title, section = reader.pages[0].extract_text(), reader.pages[1].extract_text()
    assert greet.name in title and "服务标准达标报表" in title and "现行服务标准版本" in title
    assert "北京饭店 · 中餐厅" in title and "口径说明" not in title  # definitions are words, not a heading
    assert "达标率=达标/(达标+超时完成+超时未完成)" in re.sub(r"\s", "", title)  # across a line break
    assert f"{greet.id} — {greet.name}" in section and "每日达标率（网点本地日期）" in section
    flat = re.sub(r"\s", "", section)  # narrow cells wrap their headings
    assert all(h in flat for h in ("达标", "超时完成", "超时未完成", "平均（秒）", "是否达成目标", "按周考核")), section
    fonts = _embedded_fonts(reader)
    cjk = [name for name in fonts if "WenQuanYi" in name]
    assert cjk and all(fonts[name] for name in cjk), fonts
    assert reader.metadata.title == "达标报表 2026-11-24 至 2026-12-01"


def test_an_english_pdf_of_the_same_report_has_english_words_and_the_chinese_name():
    from pypdf import PdfReader

    from monitor.reports.pdf import to_pdf

    greet, document = _chinese_report()
    reader = PdfReader(io.BytesIO(to_pdf(document, "en")))
    title = reader.pages[0].extract_text()
    assert "Service-standard compliance report" in title and greet.name in title
    assert not re.search(r"[\u4e00-\u9fff]", title.replace(greet.name, "").replace("北京饭店 · 中餐厅", ""))


def test_xlsx_and_csv_headings_follow_the_reports_lang(client, admin):
    import csv

    import openpyxl

    url = "/api/v1/reports/compliance?from=2026-11-24&to=2026-11-26&standard=greet&group_by=site"
    book = openpyxl.load_workbook(io.BytesIO(client.get(url + "&format=xlsx&lang=zh-CN", headers=admin).data))
    assert book.sheetnames == ["汇总", "greet"]
    assert book["汇总"]["A1"].value == "服务标准达标报表"
    headings = [c.value for c in next(r for r in book["greet"].iter_rows() if r[0].value == "网点")]
    assert headings[:4] == ["网点", "达标", "超时完成", "超时未完成"] and "达标率" in headings
    english = openpyxl.load_workbook(io.BytesIO(client.get(url + "&format=xlsx", headers={
        **admin, "Accept-Language": "zh-CN"}).data))
    assert english.sheetnames == ["汇总", "greet"]  # no ?lang=: the browser's language
    english = openpyxl.load_workbook(io.BytesIO(client.get(url + "&format=xlsx&lang=en", headers=admin).data))
    assert english.sheetnames == ["Summary", "greet"]
    chinese_csv = client.get(url + "&format=csv&lang=zh-CN", headers=admin).data.decode()
    assert next(csv.reader(io.StringIO(chinese_csv)))[:5] == ["标准编号", "计时所用版本", "目标达标率", "网点", "达标"]
    english_csv = client.get(url + "&format=csv&lang=en", headers=admin).data.decode()
    assert english_csv.startswith("standard,versions,goal_ratio,site,met")
    bad = client.get(url + "&format=csv&lang=fr", headers=admin)
    assert bad.status_code == 400 and bad.json["error"]["details"] == {"parameter": "lang"}
    reversed_ = client.get(url.replace("from=2026-11-24&to=2026-11-26", "from=2026-11-26&to=2026-11-24") + "&lang=zh-CN",
                           headers=admin)
    assert reversed_.status_code == 400
    assert reversed_.json["error"]["message"] == "to（2026-11-24）必须晚于 from（2026-11-26）"


# -- API errors and the CLI ------------------------------------------------------------------------
def test_api_errors_follow_lang_then_accept_language_and_keep_their_codes(client, admin):
    chinese = client.get("/api/v1/alerts?limit=0", headers={**admin, "Accept-Language": "zh-CN"})
    english = client.get("/api/v1/alerts?limit=0&lang=en", headers={**admin, "Accept-Language": "zh-CN"})
    assert chinese.status_code == english.status_code == 400
    assert chinese.json["error"]["code"] == english.json["error"]["code"] == "bad_request"
    assert chinese.json["error"]["message"] == "limit 必须在 1 到 10000 之间"
    assert english.json["error"]["message"] == "limit must be between 1 and 10000"
    assert client.get("/api/v1/alerts", headers={"Accept-Language": "zh-CN"}).json["error"]["message"] == \
        "请发送 'Authorization: Bearer <token>' 或先登录"


@pytest.mark.parametrize("lang, expected", [("zh_CN.UTF-8", "数据库已是最新结构"), ("en_US.UTF-8", "database is at the newest schema")])
def test_cli_messages_follow_lang(tmp_path, lang, expected):
    from click.testing import CliRunner

    from monitor.cli import main

    url = f"sqlite:///{tmp_path}/cli.db"
    done = CliRunner().invoke(main, ["db", "upgrade"], env={"MONITOR_DATABASE_URL": url, "LC_ALL": "", "LANG": lang})
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == expected
    created = CliRunner().invoke(main, ["user", "create", "mei", "--role", "manager", "--password-stdin"],
                                 input="correct-horse-9\n",
                                 env={"MONITOR_DATABASE_URL": url, "LC_ALL": lang})
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().splitlines()[-1] == {"zh_CN.UTF-8": "用户 mei（manager）已创建",
                                                       "en_US.UTF-8": "user mei (manager) created"}[lang]


def test_the_board_speaks_chinese_to_a_chinese_screen(client, admin):
    """The board's own words, the script's too (its strings block), follow the page's language."""
    chinese = client.get("/?lang=zh-CN", headers=admin).get_data(as_text=True)
    assert '<html lang="zh-CN"' in chinese
    for words in ("未处理告警", "进行中的计时", "全部网点", "提醒：关"):
        assert words in chinese, words
    import json
    script = json.loads(re.search(r'id="board-strings">(.*?)</script>', chinese, re.S).group(1))
    assert script["ack_prompt"].startswith("确认告警。") and script["late"] == "超时 %(time)s"
    english = client.get("/?lang=en", headers=admin).get_data(as_text=True)
    assert "Open alerts" in english and "未处理告警" not in english
