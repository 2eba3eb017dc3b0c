"""Languages (SPEC §6.1): the catalogues are complete and compiled, and each request speaks the
language picked by ?lang=, then the user's saved choice, then Accept-Language."""
from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from monitor import i18n
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
    translated = {m.id for m in _catalogue() if m.id and m.string and "fuzzy" not in m.flags}
    assert wanted, "extraction found no message ids"
    assert sorted(wanted - translated) == [], "untranslated in zh_CN: refresh the catalogue (README, Languages)"


def test_the_compiled_catalogue_is_up_to_date_with_the_po_file():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected = {m.id: m.string for m in _catalogue() if m.id and m.string and "fuzzy" not in m.flags}
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
