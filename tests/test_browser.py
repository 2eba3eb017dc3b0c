"""A real headless Chromium on the real service: sign in, see a breach arrive live, acknowledge it.

Uses selenium with Debian's chromium and chromium-driver (nothing is downloaded). Skipped only
when they are missing on a developer's machine; in CI (``CI`` set) a missing browser fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.harness.processes import missing_tool
from tests.harness.service import ROOT, Service

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    missing_tool("headless Chromium and its driver", "apt-get install -y chromium chromium-driver")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MANAGER, OPERATIONS, PASSWORD = "mei", "olga", "correct-horse-9"
#: Where to keep the board's screenshots; the test's own tmp dir unless SMARTMON_SCREENSHOTS is set.
SCREENSHOTS = os.environ.get("SMARTMON_SCREENSHOTS")


def create_logins(svc: Service, *logins: tuple[str, str]) -> None:
    """(name, role) logins with PASSWORD, made the way an operator makes them."""
    for name, role in logins:
        created = subprocess.run([sys.executable, "-m", "monitor", "user", "create", name, "--role", role,
                                  "--password-stdin"], input=PASSWORD + "\n", text=True, capture_output=True,
                                 cwd=ROOT, env=svc.env, timeout=60)
        assert created.returncode == 0, created.stderr


@pytest.fixture
def service(tmp_path, mosquitto):
    svc = Service(tmp_path, mosquitto.url, client_id=f"browser-{uuid.uuid4().hex[:6]}")
    create_logins(svc, (MANAGER, "manager"), (OPERATIONS, "operations"))
    svc.start()
    yield svc
    svc.stop()


def chromium(profile: Path, window: str = "1920,1080", languages: str | None = None) -> webdriver.Chrome:
    """A headless Chromium with a profile of its own (its storage and service workers stay there);
    ``languages`` sets its Accept-Language (``zh-CN,zh``)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--window-size={window}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if languages:
        options.add_argument(f"--lang={languages.split(',')[0]}")
        options.add_experimental_option("prefs", {"intl.accept_languages": languages})
    # A test answers a prompt itself; nothing should dismiss it behind its back.
    options.unhandled_prompt_behavior = "ignore"
    return webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    directory = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def sign_in(browser, service, name: str, path: str = "/") -> WebDriverWait:
    wait = WebDriverWait(browser, 15)
    browser.get(f"{service.url}{path}")
    wait.until(EC.url_contains("/login"))
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait.until(lambda driver: "/login" not in driver.current_url)
    return wait


def test_a_manager_sees_a_breach_arrive_live_and_acknowledges_it_with_one_click(service, browser, tmp_path):
    wait = sign_in(browser, service, MANAGER)
    # Signed in and on the board, with the alert stream connected before anything happens.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    assert browser.find_elements(By.CSS_SELECTOR, "#alerts [data-alert-id]") == []

    case = f"table-{uuid.uuid4().hex[:4]}"
    seated_at = datetime.now(timezone.utc) - timedelta(minutes=2, seconds=10)  # deadline 10 s ago
    response = service.api("POST", "/events", json={"id": str(uuid.uuid4()), "case": case, "type": "seated",
                                                    "at": seated_at.isoformat(), "site": "bj-01"})
    assert response.status_code == 202, response.text

    breach_css = f'#alerts [data-kind="breach"][data-case="{case}"]'
    alert = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, breach_css)))
    assert alert.get_attribute("data-standard") == "greet"
    assert alert.get_attribute("data-state") == "open"
    alert_id = alert.get_attribute("data-alert-id")
    # The new table's clock shows up too, counted as late.
    clock_css = f'#clocks [data-clock][data-case="{case}"][data-look="breached"]'
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, clock_css)))
    shot = screenshot(browser, tmp_path, "board-breach")
    assert shot.stat().st_size > 0

    alert.find_element(By.CSS_SELECTOR, 'button[data-action="ack"]').click()
    prompt = wait.until(EC.alert_is_present())
    prompt.send_keys("on my way")
    prompt.accept()
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#alerts [data-alert-id="{alert_id}"][data-state="acknowledged"]')))
    acknowledged = browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{alert_id}"]')
    assert "on my way" in acknowledged.text
    assert not acknowledged.find_element(By.CSS_SELECTOR, 'button[data-action="ack"]').is_displayed()
    screenshot(browser, tmp_path, "board-acknowledged")

    stored = service.api("GET", f"/alerts?case={case}&kind=breach").json()["items"]
    assert [(a["id"], a["state"], a["acknowledged_by"], a["note"]) for a in stored] == [
        (alert_id, "acknowledged", MANAGER, "on my way")]


def test_operations_edit_a_standards_file_and_see_problems_by_line_and_conflicts(service, browser, tmp_path):
    wait = sign_in(browser, service, OPERATIONS, "/standards/files/floor.yaml/edit")
    area = wait.until(EC.presence_of_element_located((By.ID, "yaml")))
    original = area.get_property("value")
    assert "id: greet" in original
    line = original.splitlines().index("    within: 2m") + 1

    browser.execute_script("arguments[0].value = arguments[1];", area, original.replace("within: 2m", "within: soon", 1))
    browser.find_element(By.ID, "save").click()
    problem = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#problems button")))
    assert problem.text.startswith(f"floor.yaml:{line}:") and "soon" in problem.text
    screenshot(browser, tmp_path, "editor-problems")
    assert service.api("GET", "/standards/files/floor.yaml").headers["ETag"] == '"1"'

    browser.execute_script("arguments[0].value = arguments[1];", area, original.replace("within: 2m", "within: 3m", 1))
    browser.find_element(By.ID, "save").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Saved as version 2"))
    assert "within: 3m" in service.api("GET", "/standards/files/floor.yaml").text

    # Someone else saves meanwhile: this editor still holds version 2 and must not overwrite theirs.
    theirs = original.replace("within: 2m", "within: 4m", 1)
    assert service.api("PUT", "/standards/files/floor.yaml", data=theirs.encode(),
                       headers={"If-Match": '"2"', "Content-Type": "application/yaml"}).status_code == 200
    browser.execute_script("arguments[0].value = arguments[1];", area, original.replace("within: 2m", "within: 5m", 1))
    browser.find_element(By.ID, "save").click()
    conflict = wait.until(EC.visibility_of_element_located((By.ID, "conflict-text")))
    wait.until(lambda driver: "version 3" in conflict.text)
    assert "within: 4m" in service.api("GET", "/standards/files/floor.yaml").text


def test_a_live_alert_for_a_case_named_like_a_path_links_to_that_case(service, browser):
    """Case ids such as ``../../logout`` arrive over SSE; board.js must encode them so the link opens
    the case instead of the browser resolving the dots to /logout (issue 14)."""
    wait = sign_in(browser, service, MANAGER)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    case = f"../../logout/{uuid.uuid4().hex[:4]}"
    seated_at = datetime.now(timezone.utc) - timedelta(minutes=2, seconds=10)
    assert service.api("POST", "/events", json={"id": str(uuid.uuid4()), "case": case, "type": "seated",
                                                "at": seated_at.isoformat(), "site": "bj-01"}).status_code == 202
    alert = wait.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f'#alerts [data-kind="breach"][data-case="{case}"]')))
    alert.find_element(By.CSS_SELECTOR, 'a[data-field="case"]').click()
    wait.until(EC.url_contains("/cases/"))
    assert browser.current_url.startswith(f"{service.url}/cases/..%2F..%2Flogout"), browser.current_url
    assert case in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{service.url}/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-board]")))  # still signed in
