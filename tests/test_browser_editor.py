"""Operations in a real headless Chromium: back-test an edit from the editor before saving, see what
was saved, and back-test an earlier version against the current one from the history page."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.test_browser import OPERATIONS, browser, screenshot, service, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def greeted_after(service, minutes: float) -> None:
    """A table greeted ``minutes`` after it sat down, ten minutes ago."""
    case = f"table-{uuid.uuid4().hex[:4]}"
    seated = datetime.now(timezone.utc) - timedelta(minutes=10)
    events = [{"id": str(uuid.uuid4()), "case": case, "type": t, "at": at.isoformat(), "site": "bj-01"}
              for t, at in (("seated", seated), ("greeted", seated + timedelta(minutes=minutes)))]
    assert service.api("POST", "/events", json=events).status_code == 202


def backtest_row(browser, wait, container: str) -> dict[str, str]:
    row = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, f'{container} tr[data-standard="greet"]')))
    return {f: row.find_element(By.CSS_SELECTOR, f'[data-field="{f}"]').text for f in ("current", "proposed")}


def test_back_test_before_saving_then_save_then_back_test_an_old_version_from_the_history(service, browser, tmp_path):
    greeted_after(service, 3)
    greeted_after(service, 3.5)
    wait = sign_in(browser, service, OPERATIONS, "/standards/files/floor.yaml/edit")
    area = wait.until(EC.presence_of_element_located((By.ID, "yaml")))
    original = area.get_property("value")
    browser.execute_script("arguments[0].value = arguments[1];", area, original.replace("within: 2m", "within: 4m", 1))

    browser.find_element(By.ID, "backtest").click()
    assert backtest_row(browser, wait, "#backtest-result") == {"current": "0.0 %", "proposed": "100.0 %"}
    warning = wait.until(EC.visibility_of_element_located((By.ID, "warnings")))
    assert "from 2m to 4m" in warning.text and "2 minutes" in warning.text
    assert service.api("GET", "/standards/files/floor.yaml").headers["ETag"] == '"1"'  # nothing saved yet
    screenshot(browser, tmp_path, "editor-backtest")

    browser.find_element(By.ID, "save").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Saved as version 2 (you edited version 1)"))
    assert browser.find_element(By.ID, "editing").text == "Editing version 2."
    wait.until(lambda d: [r.get_attribute("data-version") for r in d.find_elements(By.CSS_SELECTOR, "#versions tbody tr")]
               == ["2", "1"])
    assert "within: 4m" in (service.standards / "floor.yaml").read_text(encoding="utf-8")

    browser.get(f"{service.url}/standards/files/floor.yaml/history")
    sections = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "section.version")))
    assert [s.get_attribute("data-version") for s in sections] == ["2", "1"]
    assert OPERATIONS in sections[0].text and "+    within: 4m" in sections[0].text
    sections[1].find_element(By.CSS_SELECTOR, 'button[data-action="backtest"]').click()
    # Version 1 (2 min) proposed against version 2 (4 min) in force.
    assert backtest_row(browser, wait, 'section[data-version="1"]') == {"current": "100.0 %", "proposed": "0.0 %"}
    screenshot(browser, tmp_path, "history-backtest")
