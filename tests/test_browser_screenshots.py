"""The shipped restaurant standards on a busy evening, in a real headless Chromium: at 768 and 1920
px every standard name on the board is shown whole, each late table is one card, and the reports
page draws its charts. The screenshots in the README come from here
(``SMARTMON_SCREENSHOTS=monitor/web/static/screenshots python -m pytest tests/test_browser_screenshots.py``).
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.processes import ADMIN
from tests.harness.service import ROOT, Service
from tests.test_browser import browser, screenshot  # noqa: F401  (fixtures)
from tests.test_browser_board import OVERFLOW

pytestmark = pytest.mark.slow

#: (table, event, seconds ago, attrs) of the tables still being served: greeted late, drinks late, …
EVENING = [
    (3, "seated", 100, {}),                                        # greet: warning
    (5, "seated", 150, {}),                                        # greet: breach
    (7, "seated", 200, {}),                                        # greet: escalated to the floor manager
    (8, "seated", 900, {}), (8, "greeted", 840, {}), (8, "drink_ordered", 800, {"order_id": "d1"}),
    (8, "drink_served", 500, {"order_id": "d1"}), (8, "main_ordered", 400, {"order_id": "m1"}),
    (11, "seated", 1500, {}), (11, "greeted", 1450, {}), (11, "food_order_offered", 1400, {}),
    (11, "starter_ordered", 350, {"order_id": "s1"}), (11, "main_ordered", 350, {"order_id": "m1"}),
    (12, "seated", 3000, {}), (12, "greeted", 2950, {}), (12, "food_order_offered", 2900, {}),
    (12, "main_ordered", 2800, {"order_id": "m1"}), (12, "main_served", 2300, {"order_id": "m1"}),
    (12, "plates_cleared", 400, {}), (12, "dessert_ordered", 380, {"order_id": "x1"}),
    (14, "seated", 60, {}),
    (15, "seated", 2000, {}), (15, "greeted", 1950, {}), (15, "food_order_offered", 1900, {}),
    (15, "main_ordered", 1800, {"order_id": "m1"}), (15, "main_served", 1300, {"order_id": "m1"}),
    (15, "plates_cleared", 600, {}), (15, "bill_presented", 500, {}), (15, "payment_placed", 100, {}),
]


def post(service: Service, events: list[dict]) -> None:
    response = service.api("POST", "/events", json=events)
    assert response.status_code == 202 and not response.json()["rejected"], response.text


def event(case: str, kind: str, at: datetime, attrs: dict) -> dict:
    return {"id": str(uuid.uuid4()), "case": case, "type": kind, "at": at.isoformat(), "site": "bj-01",
            "staff": "li.wei", "attrs": attrs}


@pytest.fixture
def evening(tmp_path, mosquitto):
    config = tmp_path / "config.yaml"
    config.write_text("sites:\n  - {id: bj-01, name: Beijing hotel restaurant, timezone: Asia/Shanghai}\n")
    svc = Service(tmp_path, mosquitto.url, client_id=f"shots-{uuid.uuid4().hex[:6]}", standards=ROOT / "standards",
                  extra_env={"MONITOR_CONFIG": str(config)})
    svc.start()
    now = datetime.now(timezone.utc)
    rng = random.Random(17)
    past = []
    for n in range(80):  # a week of greeted tables for the report
        seated = now - timedelta(days=6, hours=-n * 1.7)
        case, table = f"table-{n % 16 + 1}/{seated:%Y-%m-%dT%H:%M:%S}", {"table": n % 16 + 1}
        greeted = seated + timedelta(seconds=rng.lognormvariate(4.3, 0.45))
        past += [event(case, "seated", seated, table), event(case, "greeted", greeted, table),
                 event(case, "food_order_offered", greeted + timedelta(seconds=rng.uniform(60, 200)), table)]
    post(svc, past)
    cases = {}
    for table, kind, ago, attrs in EVENING:
        cases.setdefault(table, f"table-{table}/{now - timedelta(seconds=3000):%Y-%m-%dT%H:%M:%S}")
        post(svc, [event(cases[table], kind, now - timedelta(seconds=ago), {"table": table, **attrs})])
    yield svc
    svc.stop()


@pytest.mark.parametrize("width, height", [(768, 1024), (1024, 768), (1920, 1080)])
def test_a_busy_evening_on_the_board_is_readable_at_tablet_and_wall_widths(evening, browser, tmp_path, width, height):
    browser.set_window_size(width, height)
    browser.get(f"{evening.url}/?site=bj-01&kiosk=1&token={ADMIN}")
    wait = WebDriverWait(browser, 30)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#alerts [data-alert-id]")) >= 4)
    cards = browser.find_elements(By.CSS_SELECTOR, "#alerts [data-alert-id]")
    assert len({(c.get_attribute("data-standard"), c.get_attribute("data-case")) for c in cards}) == len(cards)
    names = {s["name"] for s in evening.api("GET", "/standards").json()["items"]}
    for item in browser.execute_script(OVERFLOW):
        assert item["text"] in names, item
        assert item["scroll"] <= item["client"] and 0 <= item["left"] and item["right"] <= item["width"], item
        assert item["clipped"] is None, item
    # A title is never squeezed to a word a line (as it was at 1024 px): two words a line at least.
    for text, lines in browser.execute_script(
            "return [...document.querySelectorAll('#alerts h3, #clocks .clock-standard')].map((h) => [h.textContent.trim(), "
            "Math.round(h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight))]);"):
        words = len(text.split())
        assert lines <= max(1, -(-words // 2)), (text, lines)
    screenshot(browser, tmp_path, f"board-{width}")


def test_the_reports_page_draws_the_weeks_compliance(evening, browser, tmp_path):
    browser.set_window_size(1280, 1400)
    browser.get(f"{evening.url}/reports?site=bj-01&token={ADMIN}")
    wait = WebDriverWait(browser, 30)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#report[data-loaded="true"]')))
    greet = browser.find_element(By.CSS_SELECTOR, '[data-standard="greet-seated-guests"]')
    assert "Greet seated guests" in greet.text and "%" in greet.text
    screenshot(browser, tmp_path, "reports")
