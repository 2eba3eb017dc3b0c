"""The pages in a real headless Chromium in both languages (SPEC §6.1): a browser that asks for
zh-CN gets the product's own words in Chinese (the shipped Chinese standards in their own words),
and ?lang=en turns the same browser's pages English. Same Chromium and harness as test_browser.py."""
from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.harness.database import Db
from tests.harness.processes import wait_for
from tests.harness.service import ROOT, Service
from tests.test_browser import PASSWORD, chromium, create_logins, screenshot
from tests.test_i18n_pages import ZH_STANDARDS, data_words, english_words
from tests.test_tablet_browser import Tablet, device_token, tap

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402  (after the browser check)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
AUDITOR = "ada"
CJK = re.compile(r"[\u4e00-\u9fff]")
#: a Chinese restaurant as its operator configures it: names in Chinese
SITES = [{"id": "bj-01", "name": "北京酒店餐厅", "timezone": "Asia/Shanghai",
          "places": [{"id": "T1", "name": "1号桌"}, {"id": "T2", "name": "2号桌"}, {"id": "T3", "name": "3号桌"}],
          "close_on": ["payment_collected", "left"], "staff": ["李娜", "王伟"]}]


def _restaurant(directory):
    """The Chinese restaurant's standards, as a restaurant runs them, in a directory of the test's own
    (a save writes its file)."""
    directory.mkdir()
    shutil.copy(ZH_STANDARDS / "restaurant.yaml", directory)
    return directory


@pytest.fixture
def service(tmp_path, mosquitto):
    svc = Service(tmp_path, mosquitto.url, client_id=f"browser-zh-{uuid.uuid4().hex[:6]}",
                  standards=_restaurant(tmp_path / "standards"),
                  extra_env={"MONITOR_SITES": json.dumps(SITES), "MONITOR_SIMULATOR_ENABLED": "false"})
    create_logins(svc, (AUDITOR, "admin"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def browser(tmp_path):
    """Chromium whose Accept-Language is zh-CN, as a Chinese floor manager's."""
    driver = chromium(tmp_path / "chromium-profile", languages="zh-CN,zh")
    yield driver
    driver.quit()


def _sign_in(browser, service) -> WebDriverWait:
    # a condition read while the page navigates may hold a stale element: it is asked again
    wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(f"{service.url}/standards")
    wait.until(EC.url_contains("/login"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert browser.find_element(By.CSS_SELECTOR, "form.login h1").text == "登录"
    browser.find_element(By.NAME, "username").send_keys(AUDITOR)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait.until(lambda driver: "/login" not in driver.current_url)
    return wait


def test_a_browser_asking_for_chinese_gets_every_page_in_chinese(service, browser):
    wait = _sign_in(browser, service)
    assert browser.find_element(By.TAG_NAME, "h1").text == "现行服务标准"
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "header nav a")] == [
        "看板", "服务标准", "报表", "审计", "死信"]
    card = browser.find_element(By.CSS_SELECTOR, '[data-standard="greet-seated-guests"]')
    assert "问候" in card.text and "目标 每周 95%" in card.text

    browser.get(f"{service.url}/standards/greet-seated-guests")
    holder = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#smart[data-loaded="data"]')))
    assert holder.find_element(By.ID, "smart-source").text.startswith("依据 YAML 和")
    rule = browser.find_element(By.CSS_SELECTOR, "ol.rule").text
    assert "计时从个案中第一次“seated”" in rule and "2分钟" in rule
    findings = browser.find_element(By.CSS_SELECTOR, '[data-criterion="measurable"]').text
    assert findings.startswith("可衡量") and "时限是明确的数字" in findings

    browser.get(f"{service.url}/reports")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#report[data-loaded="true"]')))
    assert "条标准" in browser.find_element(By.ID, "report-status").text
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a[data-format]")]
    assert links and all("lang=zh-CN" in href for href in links)

    browser.get(f"{service.url}/audit")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#audit[data-state="ok"]')))
    assert browser.find_element(By.ID, "verdict").text == "✓ 链条完整"

    browser.get(f"{service.url}/dead-letters")
    assert browser.find_element(By.TAG_NAME, "h1").text == "死信"
    assert "没有死信" in browser.find_element(By.TAG_NAME, "main").text


def test_lang_en_turns_the_same_browsers_pages_english(service, browser):
    wait = _sign_in(browser, service)
    browser.get(f"{service.url}/standards/greet-seated-guests?lang=en")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    holder = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#smart[data-loaded="data"]')))
    assert holder.find_element(By.ID, "smart-source").text.startswith("From the YAML and the stored events")
    findings = browser.find_element(By.CSS_SELECTOR, '[data-criterion="measurable"]').text
    assert findings.startswith("Measurable") and "The target is numeric" in findings
    assert browser.find_element(By.TAG_NAME, "h1").text == "问候入座客人"  # the standard's own words stay
    words = CJK.sub("", browser.find_element(By.TAG_NAME, "main").text.replace(
        browser.find_element(By.TAG_NAME, "h1").text, ""))
    assert "The rule in plain words" in words

    # The menu's switch saves the choice on the user: later pages follow it without ?lang=.
    browser.get(f"{service.url}/standards")
    assert browser.find_element(By.TAG_NAME, "h1").text == "现行服务标准"
    browser.find_element(By.CSS_SELECTOR, 'form.language button[value="en"]').click()
    wait.until(lambda driver: driver.find_element(By.TAG_NAME, "h1").text == "Standards in force")
    browser.get(f"{service.url}/standards/greet-seated-guests")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.CSS_SELECTOR, "h2").text == "The rule in plain words"


def _no_english(browser, *data: str) -> None:
    """What the page shows now, script-written text included, has no English word of the product's own."""
    found = english_words(browser.page_source, data_words(json.dumps(SITES), AUDITOR, MANAGER, *data))
    assert found == {}, f"{browser.current_url}: {found}"


def _width(browser, width: int) -> None:
    browser.set_window_size(width, 1024 if width < 1000 else 1080)


@pytest.mark.parametrize("width", [768, 1920])
def test_a_chinese_operator_back_tests_fixes_and_saves_a_standard_in_chinese(service, browser, tmp_path, width):
    """The operator's journey in zh-CN: the editor's position, back-test, refusal and save, then the
    history's back-test of the older version — every word the scripts write is Chinese too."""
    _width(browser, width)
    wait = _sign_in(browser, service)
    browser.get(f"{service.url}/standards/files/restaurant.yaml/edit")
    assert browser.find_element(By.TAG_NAME, "h1").text == "编辑 restaurant.yaml"
    area = browser.find_element(By.ID, "yaml")
    area.click()
    wait.until(lambda d: re.fullmatch(r"第 \d+ 行，第 \d+ 列", d.find_element(By.ID, "position").text))

    browser.find_element(By.ID, "backtest").click()
    result = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#backtest-result table")))
    assert [th.text for th in result.find_elements(By.TAG_NAME, "th")] == [
        "标准编号", "现行版本", "修改后", "变化", "计时（修改后）"]
    assert browser.find_element(By.CSS_SELECTOR, "#backtest-result .backtest-title").text.startswith("按最近 28 天")
    _no_english(browser)

    text = area.get_attribute("value")
    browser.execute_script("arguments[0].value = arguments[1]", area, text.replace("within: 2m", "within: 2x", 1))
    browser.find_element(By.ID, "save").click()
    title = wait.until(EC.visibility_of_element_located((By.ID, "problems-title"))).text
    assert re.search(r"— 1 个问题：$", title), title
    problem = browser.find_element(By.CSS_SELECTOR, "#problems button").text
    assert problem.startswith("restaurant.yaml:") and CJK.search(problem), problem
    _no_english(browser)

    browser.execute_script("arguments[0].value = arguments[1]", area, text.replace("within: 2m", "within: 3m", 1))
    browser.find_element(By.ID, "save").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("已保存为版本 2（您编辑的是版本 1）"))
    assert browser.find_element(By.ID, "editing").text == "正在编辑版本 2。"
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")]
    assert [(r[0], r[1]) for r in rows] == [("2", AUDITOR), ("1", "标准目录")]
    assert all(CJK.search(r[2]) for r in rows), rows  # 2026年12月1日 …
    _no_english(browser)
    screenshot(browser, tmp_path, f"zh-editor-{width}")

    browser.get(f"{service.url}/standards/files/restaurant.yaml/history")
    assert "共 2 个版本" in browser.find_element(By.CSS_SELECTOR, "main > p.muted:nth-of-type(2)").text
    older = browser.find_element(By.CSS_SELECTOR, 'section[data-version="1"]')
    older.find_element(By.CSS_SELECTOR, 'button[data-action="backtest"]').click()
    wait.until(lambda d: older.find_elements(By.CSS_SELECTOR, "[data-result] table"))
    assert older.find_element(By.CSS_SELECTOR, ".backtest-title").text.startswith("按最近 28 天")
    _no_english(browser)
    screenshot(browser, tmp_path, f"zh-history-{width}")


MANAGER = "mei"
GREET_CARD = '#alerts [data-case="T1/lunch"][data-standard="greet-seated-guests"]'


@pytest.fixture
def tablet_browser(tmp_path):
    driver = chromium(tmp_path / "tablet-profile", "768,1024", languages="zh-CN,zh")
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    yield driver
    driver.quit()


def test_a_chinese_floor_sees_a_late_table_on_the_board_and_staff_record_a_visit_on_the_tablet(
        service, browser, tablet_browser, tmp_path):
    """The floor's journey in zh-CN: a late table's card says 1号桌 and its standard, the countdown and
    the acknowledgement prompt are Chinese; the tablet's tiles, buttons, status and countdowns too."""
    create_logins(service, (MANAGER, "manager"))
    seated = datetime.now(timezone.utc) - timedelta(minutes=4)
    accepted = service.api("POST", "/events", json=[{"id": "zh-seat-1", "case": "T1/lunch", "type": "seated",
                                                     "site": "bj-01", "at": seated.isoformat(),
                                                     "attrs": {"table": "1", "place": "T1"}}])
    assert accepted.status_code == 202, accepted.text

    wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(f"{service.url}/")
    wait.until(EC.url_contains("/login"))
    browser.find_element(By.NAME, "username").send_keys(MANAGER)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    card = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, GREET_CARD)))
    assert "1号桌" in card.text and "问候入座客人" in card.text
    wait.until(lambda d: card.find_element(By.CSS_SELECTOR, '[data-field="since"]').text)
    clock = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#clocks [data-clock][data-case="T1/lunch"]')))
    wait.until(lambda d: clock.find_element(By.CSS_SELECTOR, '[data-field="left"]').text.startswith("超时"))
    _no_english(browser, "T1/lunch")
    for width in (768, 1920):
        _width(browser, width)
        screenshot(browser, tmp_path, f"zh-board-{width}")
    card.find_element(By.CSS_SELECTOR, 'button[data-action="ack"]').click()
    prompt = wait.until(EC.alert_is_present())
    assert prompt.text.startswith("升级：问候入座客人，1号桌\n\n确认告警。"), prompt.text
    prompt.send_keys("马上到")
    prompt.accept()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, GREET_CARD).get_attribute("data-state") == "acknowledged")

    db = Db(service.env["MONITOR_DATABASE_URL"])
    try:
        tablet = Tablet(tablet_browser, service, db).open(device_token(service, "bj-01"))
        page = tablet_browser.find_element(By.TAG_NAME, "html")
        assert page.get_attribute("lang") == "zh-CN"
        assert tablet_browser.find_element(By.TAG_NAME, "h1").text == "北京酒店餐厅"
        assert tablet.tile("T2").find_element(By.CSS_SELECTOR, '[data-field="case"]').text == "空闲"
        tablet.touch("T2", "seated")
        countdown = lambda d: tablet.tile("T2").find_element(By.CSS_SELECTOR, '[data-field="countdown"]').text
        tablet.wait.until(lambda d: re.fullmatch(r"\d+:\d\d", countdown(d) or ""))
        free = tablet.tile("T2").find_element(By.CSS_SELECTOR, 'button[data-action="free"]')
        assert free.text == "释放此位置"
        _no_english(tablet_browser, "T1/lunch", tablet.case("T2"))
        screenshot(tablet_browser, tmp_path, "zh-tablet-768")
    finally:
        db.dispose()
