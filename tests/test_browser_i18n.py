"""The pages in a real headless Chromium in both languages (SPEC §6.1): a browser that asks for
zh-CN gets the product's own words in Chinese (the shipped Chinese standards in their own words),
and ?lang=en turns the same browser's pages English. Same Chromium and harness as test_browser.py."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.harness.service import ROOT, Service
from tests.test_browser import PASSWORD, chromium, create_logins

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402  (after the browser check)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
AUDITOR = "ada"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def service(tmp_path, mosquitto):
    svc = Service(tmp_path, mosquitto.url, client_id=f"browser-zh-{uuid.uuid4().hex[:6]}",
                  standards=ROOT / "standards" / "zh")
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
