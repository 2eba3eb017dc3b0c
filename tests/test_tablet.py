"""The staff tablet's server side (SPEC §6.1, §8): config keys, sign-in, the page, /tablet/state.

The page's behaviour in a browser (touches, the queue, offline) is tests/test_tablet_browser.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from monitor.app import create_app
from monitor.auth import create_token
from monitor.config import Config, ConfigError
from tests.conftest import app_config, ROOT_DIR, send
from tests.test_web import page

SITES = [{"id": "bj-01", "name": "Beijing restaurant", "timezone": "Asia/Shanghai",
          "places": [{"id": "T1", "name": "Table 1"}, "T2"], "close_on": ["payment_collected", "left"],
          "staff": ["Li Na", "Wang Wei"]},
         {"id": "sh-02", "places": ["A1"]}]
NOW = datetime.now(timezone.utc).replace(microsecond=0)
M = timedelta(minutes=1)


@pytest.fixture
def app(db_url, tmp_path):
    standards = tmp_path / "standards"
    standards.mkdir()
    (standards / "restaurant.yaml").write_text((ROOT_DIR / "standards" / "restaurant.yaml").read_text())
    application = create_app(app_config(db_url, sites=SITES, standards={"dir": str(standards)}))
    yield application
    application.extensions["smartmon"].db.dispose()


def device(runtime, *sites: str) -> str:
    with runtime.db.session() as session:
        return create_token(session, "device", list(sites), "tab")[1]


@pytest.mark.parametrize("site, message", [
    ({"places": "T1"}, "sites[0].places must be a list"),
    ({"places": ["T1", "a/b"]}, "sites[0].places[1].id must match"),
    ({"places": [{"id": "T1", "title": "x"}]}, "sites[0].places[0] must be a place id or a mapping"),
    ({"places": ["T1", {"id": "T1"}]}, "sites[0].places names 'T1' twice"),
    ({"close_on": ["Paid"]}, "sites[0].close_on[0] must match"),
    ({"close_on": "left"}, "sites[0].close_on must be a list"),
    ({"staff": [""]}, "sites[0].staff[0] must be a non-empty text"),
    ({"place": ["T1"]}, "unknown configuration key 'sites[0].place'"),
])
def test_it_refuses_bad_places_close_on_and_staff_naming_the_key(site, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Config.load("/dev/null", environ={}, overrides={"sites": [{"id": "s", **site}]})


def test_it_reads_places_as_ids_or_id_and_name():
    site = Config.load("/dev/null", environ={}, overrides={"sites": SITES}).sites["bj-01"]
    assert [(p.id, p.name) for p in site.places] == [("T1", "Table 1"), ("T2", "T2")]
    assert site.close_on == ("payment_collected", "left") and site.staff == ("Li Na", "Wang Wei")
    assert Config.load("/dev/null", environ={}).sites == {}  # an empty config is still valid


def test_a_device_link_signs_in_once_and_the_token_leaves_the_address(client, runtime):
    secret = device(runtime, "bj-01")
    response = client.get(f"/tablet?token={secret}")
    assert response.status_code == 302 and response.headers["Location"] == "/tablet"
    assert secret not in response.headers["Location"]
    page = client.get("/tablet")
    assert page.status_code == 200 and secret.encode() not in page.data
    # The session is the tablet's only: every other page stays closed to it.
    assert client.get("/").status_code == 403


def test_the_page_shows_the_sites_places_and_one_button_per_event_its_standards_use(client, runtime):
    client.get(f"/tablet?token={device(runtime, 'bj-01')}")
    root = page(client.get("/tablet"))
    tiles = root.find_all("section")
    assert [(p.attrs["data-place"], p.attrs["data-case"]) for p in tiles] == [("T1", ""), ("T2", "")]
    # One set of buttons, which tablet.js moves into the place staff open (test_tablet_browser.py).
    panel = root.find("div", id="actions")
    events = [b.attrs["data-event"] for b in panel.find_all("button") if "data-event" in b.attrs]
    # Every type the nine standards start, stop or cancel on, in the catalogue's (service) order;
    # survey_answered and complaint_received start nothing and stay off the tablet.
    assert events == ["seated", "greeted", "drink_ordered", "drink_served", "drink_check_done", "food_order_offered",
                      "starter_ordered", "starter_served", "main_ordered", "main_served", "plates_cleared",
                      "dessert_ordered", "dessert_served", "bill_presented", "payment_placed", "payment_collected",
                      "left"]
    assert panel.find("button", **{"data-event": "seated"}).text == "Guests are shown to a table and sit down"
    assert panel.find("button", **{"data-action": "free"}) is not None
    assert [o.text for o in root.find("select").find_all("option")][1:] == ["Li Na", "Wang Wei"]


def test_state_holds_each_places_case_through_a_gap_until_it_closes(client, runtime):
    client.get(f"/tablet?token={device(runtime, 'bj-01')}")
    case = "T1/2026-12-01T18:02:05"
    send(runtime, ("e1", case, "seated", NOW - 3 * M, {"attrs": {"place": "T1"}}),
         ("e2", case, "greeted", NOW - 2 * M, {"attrs": {"place": "T1"}}),
         ("e3", "T2/2026-12-01T18:00:00", "seated", NOW - 3 * M, {"attrs": {"place": "T2"}}),
         ("x1", "T1-other", "seated", NOW - 3 * M), now=NOW)
    places = client.get("/tablet/state").json["places"]
    # Greeted and no drinks ordered yet: no clock but offer-food runs, and the table is still taken.
    assert places["T1"]["case"] == case
    assert [c["standard"] for c in places["T1"]["clocks"]] == ["offer-food-order"]
    clock = places["T1"]["clocks"][0]
    assert clock["deadline"] and clock["warn_at"] and clock["state"] == "running"
    assert places["T2"]["clocks"][0]["standard"] == "greet-seated-guests"

    send(runtime, ("e4", case, "payment_collected", NOW - M, {"attrs": {"place": "T1"}}),
         ("e5", "T2/2026-12-01T18:00:00", "place_freed", NOW - M, {"attrs": {"place": "T2"}}), now=NOW)
    assert client.get("/tablet/state").json["places"] == {"T1": None, "T2": None}


def test_a_token_for_several_sites_picks_one_and_no_other(client, runtime):
    client.get(f"/tablet?token={device(runtime, 'bj-01', 'sh-02')}")
    assert list(client.get("/tablet/state?site=sh-02").json["places"]) == ["A1"]
    assert list(client.get("/tablet/state").json["places"]) == ["T1", "T2"]
    refused = client.get("/tablet/state?site=elsewhere")
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"


def test_state_needs_a_device_or_admin_credential(client, runtime):
    assert client.get("/tablet/state").status_code == 401
    with runtime.db.session() as session:
        manager = create_token(session, "manager", (), "m")[1]
    assert client.get("/tablet/state", headers={"Authorization": f"Bearer {manager}"}).status_code == 403


def test_the_service_worker_is_served_from_the_root_for_the_tablet_scope(client):
    response = client.get("/tablet-sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/tablet"


def test_a_tablet_used_daily_keeps_its_cookie_past_the_first_lifetime(client, runtime):
    """The row's end moves out with use; the cookie's Max-Age must move with it, or the browser
    would drop a busy tablet's cookie 30 days after its sign-in."""
    secret = device(runtime, "bj-01")
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc), tick=False) as clock:
        assert "Max-Age=2592000" in client.get(f"/tablet?token={secret}").headers["Set-Cookie"]
        assert "Set-Cookie" not in client.get("/tablet").headers  # nothing moved yet
        clock.shift(timedelta(days=20))
        again = client.get("/tablet/state")
        assert again.status_code == 200 and "Max-Age=2592000" in again.headers["Set-Cookie"]
        assert again.headers["Set-Cookie"].startswith(f"session={client.get_cookie('session').value};")
