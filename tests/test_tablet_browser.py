"""The staff tablet in a real headless Chromium with touch emulation, on the real service (SPEC §6.1).

Touches are real touch events (``Input.dispatchTouchEvent``: the browser turns a tap into the click
the page handles); offline is the browser set offline *and* the service stopped, so neither the
page nor its service worker can reach the monitor. The restaurant's nine standards run with the
simulator off: every event comes from a tap.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.harness.database import Db
from tests.harness.processes import wait_for
from tests.harness.service import ROOT, Service
from tests.test_browser import chromium, screenshot

from selenium.webdriver.common.by import By  # noqa: E402  (after test_browser's check for the browser)
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow

SITES = [{"id": "bj-01", "name": "Beijing hotel restaurant", "timezone": "Asia/Shanghai",
          "places": [{"id": "T1", "name": "Table 1"}, {"id": "T2", "name": "Table 2"}, "T3", "T4"],
          "close_on": ["payment_collected", "left"], "staff": ["Li Na", "Wang Wei"]},
         {"id": "sh-02", "timezone": "Asia/Shanghai", "places": ["B1"]}]
SERVICE_OF_A_VISIT = ["seated", "greeted", "drink_ordered", "drink_served", "drink_check_done", "food_order_offered",
                      "starter_ordered", "starter_served", "main_ordered", "main_served", "plates_cleared",
                      "dessert_ordered", "dessert_served", "bill_presented", "payment_placed", "payment_collected"]
NINE = {"greet-seated-guests", "serve-ordered-drinks", "check-after-first-drink", "offer-food-order", "serve-starters",
        "serve-main-course", "serve-dessert-and-coffee", "present-the-bill", "pick-up-payment"}


@pytest.fixture
def service(tmp_path, mosquitto):
    standards = tmp_path / "standards"
    standards.mkdir()
    (standards / "restaurant.yaml").write_text((ROOT / "standards" / "restaurant.yaml").read_text())
    svc = Service(tmp_path, mosquitto.url, client_id=f"tablet-{uuid.uuid4().hex[:6]}", standards=standards,
                  extra_env={"MONITOR_SITES": json.dumps(SITES), "MONITOR_SIMULATOR_ENABLED": "false"})
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def db(service):
    look = Db(service.env["MONITOR_DATABASE_URL"])
    yield look
    look.dispose()


def device_token(service: Service, site: str) -> str:
    """Made the way the README tells an operator to make one."""
    made = subprocess.run([sys.executable, "-m", "monitor", "token", "create", "--role", "device", "--site", site,
                           "--name", f"tablet-{site}"], text=True, capture_output=True, cwd=ROOT, env=service.env,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def tablet_chromium(profile: Path):
    """A tablet's browser: touch emulation on, its storage and service worker in ``profile``."""
    driver = chromium(profile, "1280,800")
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = tablet_chromium(tmp_path / "tablet-profile")
    yield driver
    driver.quit()  # a test that restarted the browser quit this one already; a second quit is a no-op


def tap(driver, element) -> None:
    """A finger on the element's centre and off again (where the element is at that moment: the
    page redraws while a test runs)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    box = WebDriverWait(driver, 5).until(lambda d: d.execute_script("""
        const r = arguments[0].getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
        const hit = document.elementFromPoint(x, y);
        return hit && arguments[0].contains(hit) ? [x, y] : null;""", element))
    point = {"x": box[0], "y": box[1], "radiusX": 4, "radiusY": 4, "force": 1, "id": 0}
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


class Tablet:
    """The page as staff use it: open a place, touch an event; each touch's time is remembered."""

    def __init__(self, driver, service: Service, db: Db) -> None:
        self.driver, self.service, self.db = driver, service, db
        self.wait = WebDriverWait(driver, 20)
        self.touched: list[tuple[str, datetime, datetime]] = []  # (type, before, after)

    def open(self, token: str) -> "Tablet":
        self.driver.get(f"{self.service.url}/tablet?token={token}")
        self.wait.until(lambda d: d.current_url == f"{self.service.url}/tablet")
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-tablet][data-network]"))
        return self

    def tile(self, place: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-place="{place}"]')

    def case(self, place: str) -> str:
        return self.tile(place).get_attribute("data-case")

    def open_place(self, place: str):
        tile = self.tile(place)
        if tile.get_attribute("data-open") != "true":
            tap(self.driver, tile.find_element(By.CSS_SELECTOR, 'button[data-action="open"]'))
            self.wait.until(lambda d: tile.get_attribute("data-open") == "true")
        return tile

    def touch(self, place: str, event_type: str, *, online: bool = True) -> None:
        """Tap ``event_type`` on ``place``; online, wait until the monitor stored it."""
        tile = self.open_place(place)
        queued, sent = self.queued(), self.stored_count() if online else 0
        before = datetime.now(timezone.utc)
        tap(self.driver, tile.find_element(By.CSS_SELECTOR, f'button[data-event="{event_type}"]'))
        if online:
            wait_for(lambda: self.stored_count() > sent, 20, message=f"{event_type} on {place} stored")
            last = self.db.scalar("SELECT type FROM events ORDER BY seq DESC LIMIT 1")
            assert last == event_type, f"tapped {event_type} on {place}, the tablet recorded {last}"
        else:
            self.wait.until(lambda d: self.queued() > queued)
        self.touched.append((event_type, before, datetime.now(timezone.utc)))

    def free(self, place: str) -> None:
        tap(self.driver, self.open_place(place).find_element(By.CSS_SELECTOR, 'button[data-action="free"]'))

    def stored_count(self) -> int:
        return self.db.scalar("SELECT count(*) FROM events")

    def queued(self) -> int:
        return int(self.driver.find_element(By.CSS_SELECTOR, "[data-tablet]").get_attribute("data-queue") or 0)


def stored(db: Db) -> list[dict]:
    """Every stored event, oldest first, as the database holds it."""
    rows = db.rows("SELECT id, case_id, type, at, site, staff, attrs FROM events ORDER BY seq")
    return [{"id": r[0], "case": r[1], "type": r[2], "at": _aware(r[3]), "site": r[4], "staff": r[5],
             "attrs": json.loads(r[6]) if isinstance(r[6], str) else r[6]} for r in rows]


def _aware(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@pytest.fixture
def tablet(browser, service, db) -> Tablet:
    return Tablet(browser, service, db).open(device_token(service, "bj-01"))


def post(service: Service, *events: tuple) -> None:
    """Events (case, type, at[, attrs]) from another device (the admin's token), e.g. a table seated
    a while ago."""
    body = [{"id": str(uuid.uuid4()), "case": case, "type": kind, "at": at.isoformat(), "site": "bj-01",
             "attrs": {"place": case.partition("/")[0], **(more[0] if more else {})}}
            for case, kind, at, *more in events]
    assert service.api("POST", "/events", json=body).status_code == 202


def clocks_shown(browser, place: str) -> list[str]:
    """The standards of the place's countdowns, read at once (the list is redrawn every second)."""
    return browser.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(c => c.dataset.standard);",
                                  f'[data-place="{place}"] [data-clock]')


def clocks_of(service: Service, case: str) -> dict[str, str]:
    return {c["standard"]: c["state"] for c in service.api("GET", f"/cases/{case}").json()["clocks"]}


def clocks_by_key(service: Service, case: str) -> dict[tuple[str, str | None], dict]:
    """The case's clocks as the API gives them, by (standard, correlation key or None)."""
    return {(c["standard"], c["key"] or None): c for c in service.api("GET", f"/cases/{case}").json()["clocks"]}


def at_of(db: Db, case: str, event_type: str) -> datetime:
    """When the (only) ``event_type`` of ``case`` was touched, as stored."""
    [at] = [e["at"] for e in stored(db) if e["case"] == case and e["type"] == event_type]
    return at


def started_at(clock: dict) -> datetime:
    return _aware(clock["start"])


# -- 1. the page ---------------------------------------------------------------------------------------
def test_it_shows_the_places_of_config_and_a_touch_stores_the_event_for_the_tokens_site(tablet, browser, db):
    assert "token" not in browser.current_url
    assert [(t.get_attribute("data-place"), t.get_attribute("data-case"))
            for t in browser.find_elements(By.CSS_SELECTOR, "[data-place]")] == [
        ("T1", ""), ("T2", ""), ("T3", ""), ("T4", "")]
    assert browser.find_element(By.CSS_SELECTOR, '[data-place="T1"] .name').text == "Table 1"
    Select(browser.find_element(By.CSS_SELECTOR, "[data-staff]")).select_by_visible_text("Li Na")
    tablet.open_place("T1")
    # Inside the open place, a button for each event type the site's standards use, labelled with
    # the catalogue's text; on a free place only the types some standard starts on can be touched
    # (they open a case), not a stop such as greeted.
    buttons = browser.find_elements(By.CSS_SELECTOR, '[data-place="T1"] button[data-event]')
    assert len(buttons) == 17 and buttons[0].text == "Guests are shown to a table and sit down"
    assert [b.get_attribute("data-event") for b in buttons if b.is_enabled()] == [
        "seated", "drink_ordered", "drink_served", "starter_ordered", "main_ordered", "plates_cleared",
        "dessert_ordered", "dessert_served", "payment_placed"]
    assert browser.find_elements(By.CSS_SELECTOR, '[data-place="T2"] button[data-event]') == []
    tablet.touch("T1", "seated")

    [event] = stored(db)
    _, before, after = tablet.touched[0]
    assert event["site"] == "bj-01" and event["type"] == "seated" and event["staff"] == "Li Na"
    assert event["attrs"] == {"place": "T1"}
    assert before - timedelta(seconds=1) <= event["at"] <= after + timedelta(seconds=1)
    # The case is named after the place and the site-local start time (Asia/Shanghai, UTC+8).
    local = event["at"].astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M:%S")
    assert event["case"] == f"T1/{local}"
    tablet.wait.until(lambda d: tablet.case("T1") == event["case"])
    # A second touch on the taken place belongs to the same case; the staff choice stays.
    tablet.touch("T1", "greeted")
    assert [(e["case"], e["type"], e["staff"]) for e in stored(db)] == [
        (event["case"], "seated", "Li Na"), (event["case"], "greeted", "Li Na")]


def test_each_running_clock_counts_down_coloured_by_warning_and_breach(tablet, service, browser, tmp_path):
    now = datetime.now(timezone.utc)
    post(service, ("T2/2026-12-01T10:00:00", "seated", now - timedelta(seconds=100)),   # greet warns at 90 s
         ("T3/2026-12-01T10:00:00", "seated", now - timedelta(seconds=150)),            # and breaches at 2 min
         ("T4/2026-12-01T10:00:00", "seated", now - timedelta(seconds=10)))
    greet = '[data-standard="greet-seated-guests"]'

    def countdown(place: str) -> str:  # read afresh: the list is redrawn every second
        return browser.find_element(By.CSS_SELECTOR, f'[data-place="{place}"] {greet} [data-field="countdown"]').text

    for place, look in (("T2", "warning"), ("T3", "breached"), ("T4", "ok")):
        tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-place="{place}"] {greet}[data-look="{look}"]'))
    late = countdown("T3")
    assert late.startswith("+0:") and late.endswith("late"), late
    first = countdown("T4")
    assert first.startswith("1:") and len(first) == 4, first
    tablet.wait.until(lambda d: countdown("T4") != first)  # counting down between polls
    assert countdown("T4") < first
    assert browser.find_element(By.CSS_SELECTOR, '[data-place="T3"]').get_attribute("data-look") == "breached"
    screenshot(browser, tmp_path, "tablet-countdowns")


# -- 2. cases through a visit ------------------------------------------------------------------------------
def test_the_case_stays_through_a_gap_between_clocks_and_is_freed_by_hand_and_by_close_on(tablet, service, db):
    tablet.touch("T1", "seated")
    case = tablet.case("T1")
    tablet.touch("T1", "greeted")
    tablet.touch("T1", "food_order_offered")
    # Greeted and asked: no clock runs now, and the table is still taken.
    wait_for(lambda: set(clocks_of(service, case).values()) == {"met"}, 20, message="every clock of the visit met")
    tablet.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-place="T1"] [data-clock]'))
    assert tablet.case("T1") == case
    tablet.touch("T1", "drink_ordered")
    assert {e["case"] for e in stored(db)} == {case}
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-place="T1"] [data-standard="serve-ordered-drinks"]'))

    tablet.free("T1")
    tablet.wait.until(lambda d: tablet.case("T1") == "")
    wait_for(lambda: stored(db)[-1]["type"] == "place_freed", 20, message="the free action stored")
    assert stored(db)[-1]["case"] == case

    # The next guests at T1 are a new case, ended by payment_collected (close_on) without a hand.
    tablet.touch("T1", "seated")
    second = tablet.case("T1")
    assert second.startswith("T1/") and second != case, [(e["case"], e["type"], e["at"]) for e in stored(db)]
    tablet.touch("T1", "payment_placed")
    tablet.touch("T1", "payment_collected")
    tablet.wait.until(lambda d: tablet.case("T1") == "")
    tablet.driver.refresh()  # the server says so too, not only this page
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-place="T1"][data-case=""]'))


def test_repeat_each_standards_get_an_order_number_per_touch(tablet, service, db):
    tablet.touch("T1", "seated")
    case = tablet.case("T1")
    tablet.touch("T1", "drink_ordered")
    tablet.touch("T1", "drink_ordered")
    tablet.touch("T1", "drink_served")  # the oldest open order
    orders = [(e["type"], e["attrs"].get("order_id")) for e in stored(db) if e["type"].startswith("drink")]
    assert orders == [("drink_ordered", 1), ("drink_ordered", 2), ("drink_served", 1)]
    clocks = service.api("GET", f"/cases/{case}").json()["clocks"]
    drinks = sorted((c["key"], c["state"]) for c in clocks if c["standard"] == "serve-ordered-drinks")
    assert drinks == [("1", "met"), ("2", "running")]
    tablet.wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '[data-place="T1"] [data-standard="serve-ordered-drinks"][data-key="2"]'))


def test_a_place_freed_and_taken_again_within_a_second_is_a_new_case(tablet, browser, db):
    tablet.open_place("T1")
    # Three touches in one task, well inside one second (a crossing of a second boundary in
    # between would name the second visit after its own second instead).
    browser.execute_script("""
        const tile = document.querySelector('[data-place="T1"]');
        for (const css of ['[data-event="seated"]', '[data-action="free"]', '[data-event="seated"]']) {
          tile.querySelector(css).click();
        }""")
    wait_for(lambda: tablet.stored_count() == 3, 20, message="three touches stored")
    (first, _), (freed, kind), (second, _) = [(e["case"], e["type"]) for e in stored(db)]
    assert freed == first and kind == "place_freed"
    assert second == f"{first}-2" or second > first, (first, second)
    tablet.wait.until(lambda d: tablet.case("T1") == second)


# -- 3. offline first ------------------------------------------------------------------------------------------
def test_touches_offline_survive_a_reload_and_are_stored_once_with_their_touch_times(tablet, service, browser, db,
                                                                                    tmp_path):
    tablet.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-tablet]").get_attribute("data-offline-ready")
                      == "true")
    tablet.touch("T1", "seated")
    case = tablet.case("T1")
    # The network goes away: the browser is offline and the monitor is down.
    browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    service.stop()
    tablet.wait.until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-place="T1"] [data-standard="greet-seated-guests"]'))
    tablet.touch("T1", "greeted", online=False)
    # Greeted, though the monitor does not know yet: that countdown stops here, the food offer's runs on.
    assert clocks_shown(browser, "T1") == ["offer-food-order"]
    tablet.touch("T2", "seated", online=False)
    tablet.touch("T1", "drink_ordered", online=False)
    assert tablet.queued() == 3
    offline_case = tablet.case("T2")
    assert offline_case.startswith("T2/")
    screenshot(browser, tmp_path, "tablet-offline")

    browser.refresh()  # served by the service worker; the queue comes back from localStorage
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-tablet][data-queue="3"]'))
    assert tablet.case("T1") == case and tablet.case("T2") == offline_case
    assert browser.find_element(By.ID, "offline").is_displayed()

    events = back_online(browser, tablet, service, db, [
        (case, "seated"), (case, "greeted"), (offline_case, "seated"), (case, "drink_ordered")])
    assert not browser.find_element(By.ID, "offline").is_displayed()

    # The same batch again (a resend after a lost answer) is a duplicate, never a double.
    batch = [{"id": e["id"], "case": e["case"], "type": e["type"], "at": e["at"].isoformat(), "site": e["site"],
              "attrs": e["attrs"]} for e in events[1:]]
    browser.execute_script("localStorage.setItem('smartmon.tablet.bj-01.queue', arguments[0]);", json.dumps(batch))
    browser.refresh()
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-tablet][data-queue="0"]'))
    assert tablet.stored_count() == 4 and db.scalar("SELECT count(*) FROM dead_letters") == 0


def back_online(browser, tablet, service, db, expected: list[tuple[str, str]]) -> list[dict]:
    """The monitor and the network come back: the queue drains, and each touch is stored once, in
    order, at the time it was made."""
    service.start()
    browser.delete_network_conditions()
    wait_for(lambda: tablet.stored_count() == len(expected), 30, message="the offline touches stored")
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-tablet][data-queue="0"]'))
    events = stored(db)
    assert [(e["case"], e["type"]) for e in events] == expected
    for event, (kind, before, after) in zip(events, tablet.touched, strict=True):
        assert event["type"] == kind and before - timedelta(seconds=1) <= event["at"] <= after + timedelta(seconds=1)
    return events


def test_touches_offline_survive_a_restart_of_the_tablet_and_are_stored_once_with_their_touch_times(
        tablet, service, browser, db, tmp_path):
    """The tablet is switched off and on while the network is away: the browser quits, a new one
    starts on the same profile, the service worker's cache opens the page, the queue comes back
    from the browser's storage and staff keep touching; back online, every touch is stored once."""
    page = lambda d: d.find_element(By.CSS_SELECTOR, "[data-tablet]")  # noqa: E731
    tablet.wait.until(lambda d: page(d).get_attribute("data-offline-ready") == "true")
    tablet.touch("T1", "seated")
    case = tablet.case("T1")
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-place="T1"] [data-standard="greet-seated-guests"]'))
    browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    service.stop()
    tablet.wait.until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    tablet.touch("T1", "greeted", online=False)
    tablet.touch("T2", "seated", online=False)
    offline_case = tablet.case("T2")
    assert tablet.queued() == 2 and offline_case.startswith("T2/")

    browser.quit()  # the tablet is switched off, still offline
    restarted = tablet_chromium(tmp_path / "tablet-profile")
    try:
        restarted.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
        again = Tablet(restarted, service, db)
        again.touched = tablet.touched
        restarted.get(f"{service.url}/tablet")  # the monitor is down: only the service worker can answer
        again.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-tablet][data-queue="2"]'))
        assert again.case("T1") == case and again.case("T2") == offline_case
        assert restarted.find_element(By.ID, "offline").is_displayed()
        assert clocks_shown(restarted, "T1") == ["offer-food-order"]  # greeted, though the monitor does not know yet
        again.touch("T1", "drink_ordered", online=False)
        assert again.queued() == 3

        events = back_online(restarted, again, service, db, [
            (case, "seated"), (case, "greeted"), (offline_case, "seated"), (case, "drink_ordered")])
        assert len({e["id"] for e in events}) == 4
        assert events[-1]["attrs"] == {"place": "T1", "order_id": 1}
        again.wait.until(lambda d: not d.find_element(By.ID, "offline").is_displayed())
    finally:
        restarted.quit()


# -- security ------------------------------------------------------------------------------------------------------
def test_a_tablet_of_site_a_cannot_record_for_site_b(tablet, service, browser, db):
    browser.get(f"{service.url}/tablet?site=sh-02")
    assert browser.find_elements(By.CSS_SELECTOR, "[data-place]") == []
    # Even an event made by hand on this session for the other site is refused and dead-lettered.
    answer = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/events', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({id: 'forged-1', case: 'B1/x', type: 'seated', at: new Date().toISOString(), site: 'sh-02'})})
          .then(r => done(r.status));""")
    assert answer == 422
    assert tablet.stored_count() == 0
    assert db.scalar("SELECT count(*) FROM dead_letters WHERE raw LIKE '%forged-1%'") == 1


def test_a_tablet_stays_signed_in_across_a_restart_of_the_monitor(tablet, service, browser):
    service.stop()
    service.start()
    browser.get(f"{service.url}/tablet")
    tablet.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-place="T1"]'))
    assert browser.current_url == f"{service.url}/tablet"


# -- done when: a restaurant with only tablets -------------------------------------------------------------------------
def test_the_nine_standards_run_end_to_end_from_tablet_touches_alone(tablet, service, db):
    """No simulator, no other device: one visit at T1 touched through every stage of service."""
    for event_type in SERVICE_OF_A_VISIT:
        tablet.touch("T1", event_type)
    case = stored(db)[0]["case"]
    assert {e["case"] for e in stored(db)} == {case}
    wait_for(lambda: clocks_of(service, case) == {standard: "met" for standard in NINE}, 20,
             message=f"all nine standards met (events {[(e['type'], e['attrs']) for e in stored(db)]})")
    tablet.wait.until(lambda d: tablet.case("T1") == "")  # payment_collected closed the visit
    # The first candidate of each `first_of` started its clock: drinks were served, dessert too.
    clocks = clocks_by_key(service, case)
    assert started_at(clocks[("offer-food-order", None)]) == at_of(db, case, "drink_served")
    assert started_at(clocks[("present-the-bill", None)]) == at_of(db, case, "dessert_served")


def test_the_alternative_starts_and_a_walk_out_run_from_tablet_touches_alone(tablet, service, browser, db):
    """The other half of the restaurant's rules, from taps alone: the `first_of` fallbacks (no
    drinks: the food offer counts from seating; no dessert: the bill counts from the plates being
    cleared), the food offer's other stop (guests who order before being asked), and a walk-out:
    `left` cancels every running clock of the visit and frees the place (the site's `close_on`)."""
    # T2 orders no drinks and no dessert.
    tablet.touch("T2", "seated")
    tablet.touch("T2", "greeted")
    visit = tablet.case("T2")
    wait_for(lambda: clocks_of(service, visit).get("offer-food-order") == "running", 20,
             message="the food offer counting from seating")
    assert started_at(clocks_by_key(service, visit)[("offer-food-order", None)]) == at_of(db, visit, "seated")
    tablet.wait.until(lambda d: clocks_shown(d, "T2") == ["offer-food-order"])
    tablet.touch("T2", "main_ordered")  # ordered before being asked: the offer is done
    tablet.touch("T2", "main_served")
    tablet.touch("T2", "plates_cleared")
    wait_for(lambda: clocks_of(service, visit).get("present-the-bill") == "running", 20,
             message="the bill counting from the plates being cleared")
    assert started_at(clocks_by_key(service, visit)[("present-the-bill", None)]) == at_of(db, visit, "plates_cleared")
    tablet.wait.until(lambda d: clocks_shown(d, "T2") == ["present-the-bill"])
    for event_type in ("bill_presented", "payment_placed", "payment_collected"):
        tablet.touch("T2", event_type)
    expected = {"greet-seated-guests", "offer-food-order", "serve-main-course", "present-the-bill", "pick-up-payment"}
    wait_for(lambda: clocks_of(service, visit) == {standard: "met" for standard in expected}, 20,
             message=f"the visit without drinks or dessert met ({clocks_of(service, visit)})")
    clocks = clocks_by_key(service, visit)
    assert _aware(clocks[("offer-food-order", None)]["stop"]) == at_of(db, visit, "main_ordered")
    tablet.wait.until(lambda d: tablet.case("T2") == "")

    # T3 walks out with drinks, a check and a starter on their way.
    for event_type in ("seated", "greeted", "drink_ordered", "drink_served", "starter_ordered", "drink_ordered"):
        tablet.touch("T3", event_type)
    walk_out = tablet.case("T3")
    running = {("check-after-first-drink", None), ("serve-starters", "1"), ("serve-ordered-drinks", "2")}
    wait_for(lambda: {k for k, c in clocks_by_key(service, walk_out).items() if c["state"] == "running"} == running,
             20, message="three clocks running at T3")
    tablet.wait.until(lambda d: sorted(clocks_shown(d, "T3")) == sorted(s for s, _ in running))
    tablet.touch("T3", "left")
    left_at = at_of(db, walk_out, "left")
    wait_for(lambda: all(clocks_by_key(service, walk_out)[k]["state"] == "cancelled" for k in running), 20,
             message=f"the walk-out cancelled the running clocks ({clocks_by_key(service, walk_out)})")
    clocks = clocks_by_key(service, walk_out)
    assert {k: c["state"] for k, c in clocks.items()} == {
        **{k: "cancelled" for k in running}, ("greet-seated-guests", None): "met",
        ("serve-ordered-drinks", "1"): "met", ("offer-food-order", None): "met"}
    assert all(_aware(clocks[k]["cancelled_at"]) == left_at for k in running)
    # The place is free on this tablet, and in the monitor's own answer to every tablet of the site.
    tablet.wait.until(lambda d: tablet.case("T3") == "" and clocks_shown(d, "T3") == [])
    state = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/tablet/state', {credentials: 'same-origin', headers: {Accept: 'application/json'}})
          .then(r => r.json()).then(done);""")
    assert state["places"]["T3"] is None and state["places"]["T2"] is None, state["places"]
    # The next guests at T3 are a new visit.
    tablet.touch("T3", "seated")
    assert tablet.case("T3") not in ("", walk_out)


# -- big targets, portrait and landscape -------------------------------------------------------------------------------
@pytest.mark.parametrize("width, height, name", [(800, 1280, "portrait"), (1280, 800, "landscape")])
def test_targets_are_big_and_nothing_scrolls_sideways_in_portrait_and_landscape(tablet, service, browser, width,
                                                                                 height, name, tmp_path):
    """The portrait run also makes the README's screenshot, monitor/web/static/screenshots/tablet-portrait.png:
    SMARTMON_SCREENSHOTS=monitor/web/static/screenshots python -m pytest tests/test_tablet_browser.py -k 800-1280-portrait"""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                    "deviceScaleFactor": 1, "mobile": True})
    now = datetime.now(timezone.utc)
    post(service, ("T2/2026-12-01T10:00:00", "seated", now - timedelta(seconds=100)),
         ("T3/2026-12-01T10:00:00", "seated", now - timedelta(minutes=5)),
         ("T3/2026-12-01T10:00:00", "greeted", now - timedelta(minutes=4)),
         ("T3/2026-12-01T10:00:00", "drink_ordered", now - timedelta(minutes=4, seconds=30), {"order_id": 1}))
    tablet.touch("T1", "seated")
    tablet.touch("T1", "greeted")
    sizes = browser.execute_script("""return Array.from(document.querySelectorAll(
        '[data-place="T1"] button, [data-action="open"]')).filter(b => b.offsetParent)
        .map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height]);""")
    assert sizes and min(h for _, h in sizes) >= 48 and min(w for w, _ in sizes) >= 48, sizes
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    screenshot(browser, tmp_path, f"tablet-{name}")
