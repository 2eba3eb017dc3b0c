"""Issue 18's "done when": a Chinese-speaking floor manager, operator and auditor meet not one English
word of the product's own on any page — what the server writes and what the scripts will write
(their words blocks). The standards' own words, the configuration's names, ids, codes and file
names are data, shown as written; everything else a page says is the product's."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ADMIN, app_config, send, standards_copy

ROOT = Path(__file__).resolve().parents[1]
ZH_STANDARDS = ROOT / "standards" / "zh"
SITE = {"id": "bj-01", "name": "北京酒店餐厅", "timezone": "Asia/Shanghai",
        "places": [{"id": "T1", "name": "1号桌"}, "T2"], "close_on": ["payment_collected"], "staff": ["李娜"]}
#: names of formats, protocols and the product itself, the same in Chinese text
TECHNICAL = {"smartmon", "YAML", "UTC", "JSON", "CSV", "XLSX", "PDF", "Excel", "SMART", "API", "GET", "MQTT"}
#: configuration keys a page names (the notification receivers are configured under ``notify``)
CONFIG_KEYS = {"notify"}
#: the menu's language switch names English in English, as every language switch does
SWITCH = {"English"}
#: elements whose text is data (a file's YAML, a diff, an id or a path)
DATA_ELEMENTS = {"textarea", "pre", "code", "kbd", "samp"}
WORD = re.compile(r"[A-Za-z]{2,}")
#: what a script fills in, addresses and file names: not words
PLACEHOLDER = re.compile(r"\{\w*\}|%\(\w+\)[sd]|(?:https?:/)?/[\w./?=&%:-]+|[\w-]+\.ya?ml\b")


class PageText(HTMLParser):
    """The words a reader sees: text and the title/aria-label/placeholder/alt attributes, plus
    the strings of the page's words blocks (``<script type=application/json id=…-words>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0
        self.words_block = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        named = dict(attrs)
        if tag in DATA_ELEMENTS or tag in ("script", "style"):
            self.hidden += 1
        if tag == "script":
            self.words_block = (named.get("type") == "application/json"
                                and bool(re.search(r"-(words|strings|labels)$", named.get("id") or "")))
        self.parts.extend(named[k] for k in ("title", "aria-label", "placeholder", "alt") if named.get(k))

    def handle_endtag(self, tag: str) -> None:
        if tag in DATA_ELEMENTS or tag in ("script", "style"):
            self.hidden -= 1
            self.words_block = False

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)
        elif self.words_block:
            self.parts.extend(_strings(json.loads(data)))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _strings(item)]


def english_words(html: str, data: set[str]) -> dict[str, str]:
    """Each English word of the product's own on the page, with the text around it."""
    reader = PageText()
    reader.feed(html)
    text = PLACEHOLDER.sub(" ", " ".join(reader.parts))
    found = {}
    for match in WORD.finditer(text):
        word = match.group()
        if word not in data and word not in TECHNICAL | CONFIG_KEYS | SWITCH:
            found.setdefault(word, " ".join(text[max(0, match.start() - 50):match.end() + 50].split()))
    return found


@pytest.fixture
def chinese_site(db_url):
    from monitor.app import create_app

    app = create_app(app_config(db_url, standards={"dir": str(standards_copy(ZH_STANDARDS))}, sites=[SITE]))
    runtime = app.extensions["smartmon"]
    now = datetime.now(timezone.utc)
    send(runtime, ("zh-e1", "T1/visit", "seated", now - timedelta(minutes=9), {"attrs": {"table": "1", "place": "T1"}}),
         ("zh-e2", "A017/visit", "ticket_issued", now - timedelta(minutes=30), {"attrs": {"ticket": "A017"}}), now=now)
    runtime.scheduler.step(now)  # the greeting is late: a breach and an escalation on the board
    yield app
    runtime.db.dispose()


def data_words(*data: str) -> set[str]:
    """ASCII words of the data the pages show: the Chinese standards' ids, event types and fields,
    and ``data`` (the sites' and sign-ins' names, case ids…)."""
    texts = [p.read_text(encoding="utf-8") for p in ZH_STANDARDS.glob("*.yaml")]
    return set(WORD.findall(" ".join(texts + list(data))))


def _data_words() -> set[str]:
    return data_words(json.dumps(SITE), "admin-token T1/visit A017/visit nowhere nobody nothing")


PAGES = ["/", "/?site=nowhere", "/cases/T1/visit", "/cases/nobody", "/standards", "/standards/greet-seated-guests",
         "/standards/nothing", "/standards/files/restaurant.yaml/edit", "/standards/files/new.yaml/edit",
         "/standards/files/restaurant.yaml/history", "/reports", "/audit", "/dead-letters", "/tablet", "/login",
         "/no/such/page"]


@pytest.mark.parametrize("path", PAGES)
def test_a_chinese_reader_meets_no_english_word_of_the_products_own(chinese_site, path):
    response = chinese_site.test_client().get(path, headers={"Authorization": f"Bearer {ADMIN}",
                                                             "Accept-Language": "zh-CN,zh;q=0.9"})
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 404) and '<html lang="zh-CN"' in html, response.status_code
    assert re.search(r"[\u4e00-\u9fff]", html)
    assert english_words(html, _data_words()) == {}


def test_the_check_finds_english_where_there_is_some(chinese_site):
    """The same page in English is full of the words the Chinese one must not have."""
    html = chinese_site.test_client().get("/standards/files/restaurant.yaml/history?lang=en",
                                          headers={"Authorization": f"Bearer {ADMIN}"}).get_data(as_text=True)
    found = english_words(html, _data_words())
    assert {"History", "newest", "Board"} <= set(found), sorted(found)


def test_an_http_error_on_a_page_is_a_page_in_the_readers_language_and_stays_json_on_the_api(chinese_site):
    client = chinese_site.test_client()
    chinese = {"Authorization": f"Bearer {ADMIN}", "Accept-Language": "zh-CN"}
    missing = client.get("/no/such/page", headers=chinese)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "<h1>页面不存在</h1>" in missing.get_data(as_text=True)
    wrong_method = client.delete("/reports", headers=chinese)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert "<h1>不支持此操作</h1>" in wrong_method.get_data(as_text=True)
    english = client.get("/no/such/page?lang=en", headers=chinese).get_data(as_text=True)
    assert "<h1>Page not found</h1>" in english and "If you entered the URL manually" not in english
    api = client.get("/api/v1/no-such-thing", headers=chinese)
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
