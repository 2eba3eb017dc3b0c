"""The board as the floor uses it, in a real headless Chromium at tablet (768 px) and wall-screen
(1920 px) widths: one card per clock through warning, breach and escalation; Cancel in the note
prompt leaves the alerts open, OK acknowledges them all; nothing of a standard's name is cut off;
the site picker; the alarm setting kept per screen; a kiosk that rides out a restart of the service.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.harness.processes import ADMIN, wait_for
from tests.harness.service import Service
from tests.test_browser import MANAGER, browser, create_logins, screenshot, sign_in  # noqa: F401  (fixtures)

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow

#: the longest name the shipped standards have, and then some: it must be readable whole
LONG_NAME = "Greet every newly seated table of guests before they start looking around for a server"
#: second-scale durations so a clock goes through warning, breach and escalation while we watch
QUICK = f"""\
events:
  seated: Guests sit down at a table
  greeted: A server speaks to the table for the first time
standards:
  - id: greet-quick
    name: {LONG_NAME}
    description: A server speaks to every newly seated table within 6 seconds.
    start: seated
    stop: greeted
    within: 6s
    warn_after: 3s
    escalate:
      - {{after: 3s, to: floor-manager, even_if_acknowledged: true}}
    goal: {{ratio: 0.95, per: week}}
"""
SITES = """\
sites:
  - {id: bj-01, name: Beijing hotel restaurant, timezone: Asia/Shanghai}
  - {id: sh-02, name: Shanghai branch, timezone: Asia/Shanghai}
"""


@pytest.fixture
def floor(tmp_path, mosquitto):
    standards = tmp_path / "standards"
    standards.mkdir()
    (standards / "quick.yaml").write_text(QUICK, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(SITES, encoding="utf-8")
    svc = Service(tmp_path, mosquitto.url, client_id=f"board-{uuid.uuid4().hex[:6]}", standards=standards,
                  extra_env={"MONITOR_CONFIG": str(config)})
    create_logins(svc, (MANAGER, "manager"))
    svc.start()
    yield svc
    svc.stop()


def seat(service: Service, table: int, site: str = "bj-01") -> str:
    case = f"table-{table}/{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S}-{uuid.uuid4().hex[:4]}"
    response = service.api("POST", "/events", json={"id": str(uuid.uuid4()), "case": case, "type": "seated",
                                                    "at": datetime.now(timezone.utc).isoformat(), "site": site,
                                                    "attrs": {"table": table}})
    assert response.status_code == 202, response.text
    return case


#: the cards of one case as the page shows them at one instant (board.js swaps the panel at each
#: alert change, so elements found a moment ago may be gone)
CARDS = """
return [...document.querySelectorAll('#alerts [data-alert-id]')].filter((e) => e.dataset.case === arguments[0])
  .map((e) => ({id: e.dataset.alertId, kind: e.dataset.kind, state: e.dataset.state, standard: e.dataset.standard,
                open_ids: e.dataset.openIds, text: e.innerText,
                button: !!e.querySelector('button[data-action="ack"]:not([hidden])')}));
"""


def cards_of(browser, case: str) -> list[dict]:
    return browser.execute_script(CARDS, case)


def kinds(browser, case: str) -> list[str]:
    return [c["kind"] for c in cards_of(browser, case)]


def waiting(browser, seconds: float = 30) -> WebDriverWait:
    """Waits that look again when the element they held was swapped out meanwhile."""
    return WebDriverWait(browser, seconds, ignored_exceptions=(StaleElementReferenceException,))


def press_ack(browser, case: str) -> None:
    css = f'#alerts [data-alert-id][data-case="{case}"] button[data-action="ack"]'
    waiting(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


#: every element whose text is a standard's name, its overflow, and whether it lies inside the window
OVERFLOW = """
return [...document.querySelectorAll('#alerts h3, #clocks .clock-standard')].map((e) => {
  const r = e.getBoundingClientRect();
  return {text: e.textContent.trim(), scroll: e.scrollWidth, client: e.clientWidth,
          left: r.left, right: r.right, width: window.innerWidth, clipped: (() => {
            for (let p = e.parentElement; p; p = p.parentElement) {
              const s = getComputedStyle(p), pr = p.getBoundingClientRect();
              if (s.overflowX !== 'visible' && (r.right > pr.right + 1 || r.left < pr.left - 1)) return p.className;
            }
            return null; })()};
});
"""


def assert_names_whole(browser) -> None:
    shown = browser.execute_script(OVERFLOW)
    assert shown, "no standard name on the board"
    for item in shown:
        assert item["text"] == LONG_NAME, item
        assert item["scroll"] <= item["client"], item  # no overflow: nothing cut or scrolled away
        assert 0 <= item["left"] and item["right"] <= item["width"], item
        assert item["clipped"] is None, item


@pytest.mark.parametrize("width", [768, 1920])
def test_one_card_per_clock_through_warning_breach_and_escalation_cancel_keeps_it_open(floor, browser, tmp_path,
                                                                                       width):
    browser.set_window_size(width, 1080 if width > 1000 else 1024)
    sign_in(browser, floor, MANAGER)
    wait = waiting(browser)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    case = seat(floor, 8)
    other = seat(floor, 3)

    for kind in ("warning", "breach", "escalation"):
        wait.until(lambda d: kinds(d, case) == [kind])  # one card, never one per alert
    wait.until(lambda d: kinds(d, other) == ["escalation"])
    [card] = cards_of(browser, case)
    assert (card["standard"], card["state"]) == ("greet-quick", "open")
    assert "Table 8" in card["text"]
    assert browser.find_element(By.ID, "alert-count").text == "2"
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#clocks [data-clock][data-case="{case}"]')))
    assert_names_whole(browser)
    screenshot(browser, tmp_path, f"board-quick-{width}")
    open_ids = set(card["open_ids"].split())
    assert len(open_ids) == 3

    # Cancel in the prompt: nothing is acknowledged.
    press_ack(browser, case)
    wait.until(EC.alert_is_present()).dismiss()
    wait.until(EC.visibility_of_element_located((By.ID, "toast")))
    assert {a["state"] for a in floor.api("GET", f"/alerts?case={case}").json()["items"]} == {"open"}
    assert [c["state"] for c in cards_of(browser, case)] == ["open"]

    # OK: every open alert of the clock is acknowledged with the one click, the other table's stay open.
    press_ack(browser, case)
    prompt = wait.until(EC.alert_is_present())
    prompt.send_keys("on my way")
    prompt.accept()
    wait.until(lambda d: [c["state"] for c in cards_of(d, case)] == ["acknowledged"])
    stored = floor.api("GET", f"/alerts?case={case}").json()["items"]
    assert {(a["id"], a["state"], a["acknowledged_by"], a["note"]) for a in stored} == {
        (i, "acknowledged", MANAGER, "on my way") for i in open_ids}
    assert {a["state"] for a in floor.api("GET", f"/alerts?case={other}").json()["items"]} == {"open"}
    wait.until(lambda d: d.find_element(By.ID, "alert-count").text == "1")
    assert [c["button"] for c in cards_of(browser, case)] == [False]


def site_clock_shown(browser, zone: str) -> bool:
    """The board's header clock reads the site's wall time (this minute or the one just gone)."""
    shown = browser.find_element(By.ID, "now").text[:5]
    now = datetime.now(ZoneInfo(zone))
    return shown in {f"{now:%H:%M}", f"{now - timedelta(minutes=1):%H:%M}"}


@pytest.mark.parametrize("width", [768, 1920])
def test_the_site_picker_goes_to_a_site_and_an_unknown_site_says_so(floor, browser, width):
    browser.set_window_size(width, 1024)
    # a screen set to New York: the board still tells the site's time, as its cards do
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    seat(floor, 5, site="bj-01-hall")  # a site with data but no config.yaml entry
    wait = sign_in(browser, floor, MANAGER)
    picker = Select(wait.until(EC.presence_of_element_located((By.ID, "site-picker"))))
    assert [o.get_attribute("value") for o in picker.options] == ["", "bj-01", "sh-02", "bj-01-hall"]
    picker.select_by_value("sh-02")
    wait.until(EC.url_contains("site=sh-02"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-board]").get_attribute("data-site") == "sh-02"
    wait.until(lambda d: site_clock_shown(d, "Asia/Shanghai"))
    assert not site_clock_shown(browser, "America/New_York")
    browser.get(f"{floor.url}/?site=nowhere")
    banner = wait.until(EC.visibility_of_element_located((By.ID, "unknown-site")))
    assert "nowhere" in banner.text and "bj-01-hall" in banner.text


def test_the_alarm_is_off_by_default_kept_per_screen_and_flashes_on_a_new_breach(floor, browser):
    sign_in(browser, floor, MANAGER)
    wait = waiting(browser)
    toggle = wait.until(EC.presence_of_element_located((By.ID, "alarm-toggle")))
    assert toggle.get_attribute("aria-pressed") == "false"
    case = seat(floor, 2)
    wait.until(lambda d: kinds(d, case) == ["escalation"])
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-alarms") is None  # off: no flash
    toggle.click()
    browser.refresh()  # remembered on this screen
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    assert browser.find_element(By.ID, "alarm-toggle").get_attribute("aria-pressed") == "true"
    seat(floor, 4)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-alarms") == "1")
    assert "flash" in browser.find_element(By.TAG_NAME, "body").get_attribute("class")


def test_a_kiosk_keeps_running_across_a_restart_of_the_service_and_resumes_its_stream(floor, browser):
    browser.get(f"{floor.url}/?kiosk=1&site=bj-01&token={ADMIN}")
    wait = waiting(browser, 60)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    assert "token=" not in browser.current_url
    floor.stop()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="lost"]')))
    floor.start()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-board][data-stream="open"]')))
    case = seat(floor, 6)
    wait.until(lambda d: kinds(d, case) == ["escalation"])
    assert "/login" not in browser.current_url and "kiosk=1" in browser.current_url
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'#clocks [data-clock][data-case="{case}"]'), 20)
