"""The web pages through Flask's test client: sign-in, roles, the board's data attributes, the case page."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.auth import create_token, create_user
from monitor.ingest import Delivery
from tests.conftest import app_config, send
from tests.harness.processes import ADMIN

# Time is injected into ingestion and the scheduler, as in test_scheduler.py; an hour back so
# nothing is "in the future" for code that reads the real clock.
T = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
PASSWORD = "correct-horse-9"
PERSONS = {"manager": "mei", "operations": "olga", "auditor": "ada", "admin": "root"}


# -- helpers ---------------------------------------------------------------------------------------
class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], ""

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list["Node"]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k) == v if v is not True else k in n.attrs for k, v in wanted.items())]

    def find(self, tag: str | None = None, **attrs: str) -> "Node | None":
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Page(HTMLParser):
    """Just enough of a DOM to ask 'is this button inside that alert?'."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = self.current = Node("#document", {}, None)
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text += data


def page(response) -> Node:
    return Page(response.get_data(as_text=True)).root


def alert_ids(client) -> dict[str, str]:
    items = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {ADMIN}"}).json["items"]
    return {a["kind"]: a["id"] for a in items}


@pytest.fixture
def people(runtime) -> dict[str, str]:
    """A person per role, all with PASSWORD; returns role → name."""
    with runtime.db.session() as session:
        for role, name in PERSONS.items():
            create_user(session, name, role, PASSWORD)
    return PERSONS


def sign_in(client, name: str, password: str = PASSWORD, **extra):
    return client.post("/login", data={"username": name, "password": password, **extra})


@pytest.fixture
def breached(runtime):
    """Table 12 seated at T, nobody greeted: the warning and the breach are open."""
    send(runtime, ("s1", "table-12/2026-11-24T18:02", "seated", T))
    runtime.scheduler.step(T + 90 * S)
    runtime.scheduler.step(T + 2 * M + S)
    return "table-12/2026-11-24T18:02"


# -- signing in and out ----------------------------------------------------------------------------
def test_it_sends_a_browser_without_a_session_to_the_login_form(client):
    response = client.get("/standards?x=1")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == ["/standards?x=1"]
    form = page(client.get("/login"))
    assert form.find("input", name="username") is not None and form.find("input", name="password") is not None


def test_it_signs_in_with_the_form_goes_where_it_was_asked_and_signs_out(client, people):
    response = sign_in(client, "mei", next="/standards")
    assert response.status_code == 302 and response.headers["Location"] == "/standards"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with client.session_transaction() as session:
        assert (session["user"], session["role"]) == ("mei", "manager")
    assert client.get("/").status_code == 200
    assert "mei" in client.get("/").get_data(as_text=True)
    assert client.get("/logout").headers["Location"] == "/login"
    with client.session_transaction() as session:
        assert "user" not in session
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_and_signs_nobody_in(client, people):
    response = sign_in(client, "mei", "not-the-password")
    assert response.status_code == 401
    assert "Unknown name or wrong password" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user" not in session
    assert sign_in(client, "nobody").status_code == 401


def test_the_bootstrap_admin_signs_in_with_the_configured_password(db_url):
    from monitor.app import create_app

    app = create_app(app_config(db_url, admin_password="bootstrap-pw-1"))
    try:
        client = app.test_client()
        assert sign_in(client, "admin", "bootstrap-pw-1").status_code == 302
        with client.session_transaction() as session:
            assert session["role"] == "admin"
    finally:
        app.extensions["smartmon"].db.dispose()


def test_after_login_it_only_goes_to_a_page_of_this_site(client, people):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client.get("/logout")
        assert sign_in(client, "mei", next=target).headers["Location"] == "/"


def test_a_login_form_posted_from_another_site_is_refused(client, people):
    response = client.post("/login", data={"username": "mei", "password": PASSWORD},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    with client.session_transaction() as session:
        assert "user" not in session
    referred = client.post("/login", data={"username": "mei", "password": PASSWORD},
                           headers={"Referer": "https://evil.example/login"})
    assert referred.status_code == 403
    # Our own page, also behind a TLS-terminating proxy (https origin, plain http to the app).
    for origin in ("http://localhost", "https://localhost"):
        client.get("/logout")
        same_site = client.post("/login", data={"username": "mei", "password": PASSWORD}, headers={"Origin": origin})
        assert same_site.status_code == 302, origin


def test_pages_take_the_api_bearer_token(client, admin):
    assert client.get("/", headers=admin).status_code == 200
    bad = client.get("/", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_a_wall_screen_link_with_a_token_signs_the_screen_in_and_drops_the_token(client, runtime):
    with runtime.db.session() as session:
        _, secret = create_token(session, "manager", name="wall-1")
    response = client.get(f"/?site=bj-01&token={secret}&kiosk=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?site=bj-01&kiosk=1"
    with client.session_transaction() as session:
        assert (session["user"], session["role"]) == ("token:wall-1", "manager")
    assert client.get("/?site=bj-01&kiosk=1").status_code == 200
    assert client.get("/?token=wrong").status_code == 401


# -- roles -----------------------------------------------------------------------------------------
PAGES = {
    "/": ("manager", "operations", "auditor", "admin"),
    "/board/clocks": ("manager", "operations", "auditor", "admin"),
    "/board/alerts": ("manager", "operations", "auditor", "admin"),
    "/standards": ("manager", "operations", "auditor", "admin"),
    "/standards/greet": ("manager", "operations", "auditor", "admin"),
    "/standards/files/floor.yaml/edit": ("operations", "admin"),
    "/standards/files/floor.yaml/history": ("manager", "operations", "auditor", "admin"),
    "/cases/t1": ("manager", "operations", "auditor", "admin"),
    "/reports": ("auditor", "admin"),
    "/audit": ("auditor", "admin"),
    "/dead-letters": ("operations", "admin"),
}


@pytest.mark.parametrize("role", list(PERSONS))
def test_each_page_opens_for_its_roles_and_says_403_to_the_others(client, runtime, people, role):
    send(runtime, ("s1", "t1", "seated", T))
    sign_in(client, people[role])
    for path, roles in PAGES.items():
        response = client.get(path)
        expected = 200 if role in roles else 403
        assert response.status_code == expected, (path, role, response.status_code)
        if expected == 403:
            assert "Not for your role" in response.get_data(as_text=True)


def test_a_device_token_opens_no_page(client, runtime):
    with runtime.db.session() as session:
        _, secret = create_token(session, "device", name="tab-1")
    for path in PAGES:
        assert client.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 403, path


def test_the_menu_offers_only_what_the_role_may_open(client, people):
    sign_in(client, "mei")
    links = {a.attrs["href"] for a in page(client.get("/")).find("nav").find_all("a")}
    assert links == {"/", "/standards"}
    client.get("/logout")
    sign_in(client, "ada")
    links = {a.attrs["href"] for a in page(client.get("/")).find("nav").find_all("a")}
    assert links == {"/", "/standards", "/reports", "/audit"}


# -- the board -------------------------------------------------------------------------------------
def cards(board: Node) -> list[Node]:
    return board.find(id="alerts").find_all(data_alert_id=True)


def test_the_board_shows_one_card_per_clock_with_its_most_severe_alert(client, runtime, people, breached):
    ids = alert_ids(client)
    sign_in(client, "mei")
    board = page(client.get("/"))
    # The warning and the breach of table 12 are one card, showing the breach (SPEC §6.1).
    [card] = cards(board)
    assert (card.attrs["data-alert-id"], card.attrs["data-kind"], card.attrs["data-case"],
            card.attrs["data-standard"], card.attrs["data-state"]) == (ids["breach"], "breach", breached, "greet", "open")
    assert set(card.attrs["data-open-ids"].split()) == {ids["breach"], ids["warning"]}
    button = card.find("button", data_action="ack")
    assert button is not None and "hidden" not in button.attrs
    assert "Greet seated guests" in card.all_text() and "after warning" in card.all_text()
    assert card.find("a").attrs["href"] == "/cases/table-12/2026-11-24T18:02"
    assert board.find(id="alert-count").all_text() == "1"
    # A minute past the deadline it escalates: still one card, now showing the escalation.
    runtime.scheduler.step(T + 3 * M + S)
    [card] = cards(page(client.get("/")))
    assert (card.attrs["data-alert-id"], card.attrs["data-kind"]) == (alert_ids(client)["escalation"], "escalation")
    assert len(card.attrs["data-open-ids"].split()) == 3


def test_a_card_stays_open_while_any_alert_of_its_clock_is_open(client, people, breached):
    ids = alert_ids(client)
    sign_in(client, "mei")
    response = client.post(f"/api/v1/alerts/{ids['breach']}/ack", json={"note": "on my way"})
    assert response.status_code == 200 and response.json["acknowledged_by"] == "mei"
    [card] = cards(page(client.get("/")))
    assert card.attrs["data-state"] == "open" and card.attrs["data-open-ids"] == ids["warning"]
    assert "on my way" in card.all_text()
    assert client.post(f"/api/v1/alerts/{ids['warning']}/ack", json={}).status_code == 200
    board = page(client.get("/"))
    [card] = cards(board)
    assert card.attrs["data-state"] == "acknowledged" and "state-acknowledged" in card.attrs["class"]
    assert card.attrs["data-kind"] == "breach" and card.attrs["data-open-ids"] == ""
    assert "hidden" in card.find("button", data_action="ack").attrs
    # The count counts what is open; the acknowledged card is counted apart.
    assert board.find(id="alert-count").all_text() == "0"
    assert "1 acknowledged" in board.find(id="alerts-title").all_text()


def test_the_board_names_a_case_as_the_floor_does_in_the_sites_own_time(db_url, tmp_path):
    from monitor.app import create_app

    app = create_app(app_config(db_url, sites=[{"id": "bj-01", "timezone": "Asia/Shanghai"}]))
    runtime = app.extensions["smartmon"]
    client = app.test_client()
    seated = (T - timedelta(days=1)).replace(hour=10, minute=2, second=0)
    send(runtime, ("s1", "table-8/2026-12-01T10:02:07", "seated", seated, {"attrs": {"table": 8}}),
         ("s2", "ticket-A017/2026-12-01T10:02:09", "ticket_issued", seated, {"attrs": {"ticket": "A017"}}),
         ("s3", "complaint-2026-000123-a-very-long-reference/x", "seated", seated), now=seated + S)
    runtime.scheduler.step(seated + 2 * M + S)
    board = page(client.get("/", headers={"Authorization": f"Bearer {ADMIN}"}))
    labels = {c.attrs["data-case"]: c.find("a").all_text() for c in board.find(id="clocks").find_all(data_clock=True)}
    assert labels == {"table-8/2026-12-01T10:02:07": "Table 8", "ticket-A017/2026-12-01T10:02:09": "Ticket A017",
                      "complaint-2026-000123-a-very-long-reference/x": "complaint-2026-000123-a…"}
    # 10:02 UTC is 18:02 in Shanghai.
    assert {c.find(**{"class": "clock-since"}).all_text() for c in board.find(id="clocks").find_all(data_clock=True)} == {
        "since 18:02"}
    card = next(c for c in cards(board) if c.attrs["data-case"].startswith("table-8"))
    assert card.find("a").all_text() == "Table 8" and "due 18:04" in card.all_text()
    app.extensions["smartmon"].db.dispose()


@pytest.mark.parametrize("sites, board_site, zone", [
    ([{"id": "bj-01", "timezone": "Asia/Shanghai"}], "bj-01", "Asia/Shanghai"),
    ([{"id": "bj-01", "timezone": "Asia/Shanghai"}, {"id": "sh-02", "timezone": "Asia/Shanghai"}], None,
     "Asia/Shanghai"),  # all sites in one zone: the board of all sites tells that time
    ([{"id": "bj-01", "timezone": "Asia/Shanghai"}, {"id": "urc-01", "timezone": "Asia/Urumqi"}], None, "UTC"),
    ([{"id": "bj-01", "timezone": "Asia/Shanghai"}], "nowhere", "UTC"),
])
def test_the_boards_header_clock_tells_the_sites_time(db_url, sites, board_site, zone):
    from monitor.app import create_app

    app = create_app(app_config(db_url, sites=sites))
    query = f"?site={board_site}" if board_site else ""
    board = page(app.test_client().get(f"/{query}", headers={"Authorization": f"Bearer {ADMIN}"}))
    assert board.find(data_board=True).attrs["data-timezone"] == zone
    app.extensions["smartmon"].db.dispose()


def test_the_alerts_fragment_is_the_same_panel_the_board_draws(client, people, breached):
    sign_in(client, "mei")
    board_cards = [c.attrs for c in cards(page(client.get("/")))]
    fragment = page(client.get("/board/alerts"))
    assert [c.attrs for c in cards(fragment)] == board_cards
    assert fragment.find(id="alerts-panel") is not None


def test_the_site_picker_offers_configured_sites_and_sites_with_data_and_an_unknown_site_says_so(db_url):
    from monitor.app import create_app

    app = create_app(app_config(db_url, sites=[{"id": "bj-01"}, {"id": "quiet-02"}]))
    runtime = app.extensions["smartmon"]
    send(runtime, ("s1", "hall-1", "ticket_issued", T), site="bj-01-hall")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    board = page(client.get("/?site=quiet-02", headers=auth))
    options = [(o.attrs["value"], "selected" in o.attrs) for o in board.find("select", id="site-picker").find_all("option")]
    assert options == [("", False), ("bj-01", False), ("quiet-02", True), ("bj-01-hall", False)]
    assert board.find(id="unknown-site") is None
    response = client.get("/?site=nowhere", headers=auth)
    assert response.status_code == 200  # a wall screen waiting for a new site's first event keeps working
    unknown = page(response).find(id="unknown-site")
    assert "No site “nowhere”" in unknown.all_text() and "bj-01-hall" in unknown.all_text()
    app.extensions["smartmon"].db.dispose()


def test_people_who_may_not_acknowledge_get_no_ack_button(client, people, breached):
    sign_in(client, "ada")
    board = page(client.get("/"))
    assert board.find(id="alerts").find(data_alert_id=True) is not None
    assert board.find(id="alerts").find("button", data_action="ack") is None


def test_resolved_alerts_leave_the_board_and_stopped_clocks_leave_the_clock_list(client, runtime, people, breached):
    sign_in(client, "mei")
    send(runtime, ("g1", breached, "greeted", T + 3 * M))
    board = page(client.get("/"))
    assert board.find(id="alerts").find(data_alert_id=True) is None
    assert board.find(id="no-alerts") is not None
    assert board.find(data_clock=True) is None


def test_the_board_lists_running_clocks_nearest_deadline_first_and_resumes_the_stream(client, runtime, people):
    send(runtime, ("s1", "late", "seated", T), ("s2", "early", "seated", T - 5 * M),
         ("o1", "bar", "drink_ordered", T + 30 * S, {"attrs": {"order_id": "A"}}), now=T + S)
    sign_in(client, "mei")
    board = page(client.get("/"))
    clocks = board.find(id="clocks").find_all(data_clock=True)
    assert [(c.attrs["data-case"], c.attrs["data-standard"]) for c in clocks] == [
        ("early", "greet"), ("late", "greet"), ("bar", "drinks")]
    assert clocks[0].attrs["data-deadline"] == (T - 3 * M).isoformat().replace("+00:00", "Z")
    assert clocks[2].attrs["data-key"] == "A"
    # The page tells board.js where the SSE stream must resume: the newest alert action.
    grid = board.find(data_board=True)
    assert grid.attrs["data-last-seq"].isdigit()
    fragment = page(client.get("/board/clocks"))
    assert [c.attrs["data-case"] for c in fragment.find_all(data_clock=True)] == ["early", "late", "bar"]


def test_a_board_for_one_site_shows_only_that_site(client, runtime, people):
    send(runtime, ("s1", "bj-table", "seated", T), site="bj-01")
    send(runtime, ("s2", "sh-table", "seated", T), site="sh-02")
    runtime.scheduler.step(T + 2 * M + S)
    sign_in(client, "mei")
    board = page(client.get("/?site=sh-02"))
    assert {a.attrs["data-case"] for a in board.find(id="alerts").find_all(data_alert_id=True)} == {"sh-table"}
    assert board.find(data_board=True).attrs["data-site"] == "sh-02"


def test_pages_forbid_inline_script_and_are_never_cached(client, admin):
    response = client.get("/", headers=admin)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/assets/board.js").status_code == 200
    assert "<script>" not in response.get_data(as_text=True)


# -- cases, standards, editor, reports, dead letters ------------------------------------------------
def test_the_case_page_shows_the_events_in_order_with_each_clock(client, runtime, people, breached):
    send(runtime, ("g1", breached, "greeted", T + 3 * M, {"staff": "li", "attrs": {"table": 12}}))
    sign_in(client, "mei")
    response = client.get(f"/cases/{breached}")
    assert response.status_code == 200
    case = page(response)
    assert [r.attrs["data-type"] for r in case.find_all("tr", data_event_id=True)] == ["seated", "greeted"]
    clock = case.find("tr", data_standard="greet")
    assert clock.attrs["data-state"] == "missed"
    text = clock.all_text()
    assert "missed" in text and "3 min" in text
    assert "table=12" in response.get_data(as_text=True)
    assert case.find("svg", **{"class": "timeline"}) is not None
    kinds = {r.attrs["data-kind"]: r.attrs["data-state"] for r in case.find_all("tr", data_alert_id=True)}
    assert kinds == {"warning": "resolved", "breach": "resolved"}
    assert client.get("/cases/no-such-case").status_code == 404


def test_the_standards_pages_show_the_rule_in_words_and_smart_cards(client, people):
    sign_in(client, "olga")
    listing = page(client.get("/standards"))
    card = listing.find("article", data_standard="greet")
    assert card is not None and "Greet seated guests" in card.all_text()
    assert card.find(**{"class": "smart"}) is not None
    assert listing.find("tr", data_file="floor.yaml").find("a").attrs["href"] == "/standards/files/floor.yaml/edit"
    detail = client.get("/standards/greet").get_data(as_text=True)
    assert "stop within 2 min" in detail and "escalates to floor-manager" in detail
    assert "/api/v1/standards/greet/smart" in detail
    assert client.get("/standards/nope").status_code == 404


def test_the_editor_holds_the_current_yaml_and_version(client, runtime, people):
    sign_in(client, "olga")
    editor = page(client.get("/standards/files/floor.yaml/edit"))
    form = editor.find("form", id="editor")
    assert form.attrs["data-version"] == "1" and form.attrs["data-url"] == "/api/v1/standards/files/floor.yaml"
    assert "id: greet" in editor.find("textarea").all_text()
    fresh = page(client.get("/standards/files/new-branch.yaml/edit")).find("form", id="editor")
    assert fresh.attrs["data-version"] == "0"
    assert client.get("/standards/files/..%2Fetc.yaml/edit").status_code == 404


def test_the_reports_page_links_each_download_for_the_chosen_period(client, people):
    sign_in(client, "ada")
    response = client.get("/reports?from=2026-11-01&to=2026-11-07&group_by=day")
    downloads = {a.attrs["data-format"]: a.attrs["href"] for a in page(response).find_all("a", data_format=True)}
    assert set(downloads) == {"CSV", "Excel (XLSX)", "PDF"}
    query = parse_qs(urlsplit(downloads["PDF"]).query)
    assert urlsplit(downloads["PDF"]).path == "/api/v1/reports/compliance"
    assert query == {"from": ["2026-11-01"], "to": ["2026-11-08"], "group_by": ["day"], "format": ["pdf"], "lang": ["en"]}
    assert "format=json" in page(response).find(id="report").attrs["data-url"]


def test_the_dead_letters_page_shows_each_rejected_payload_with_its_reason(client, runtime, people):
    runtime.ingestor.ingest([Delivery(b"{not json", "mqtt:smartmon/v1/bj-01/tab/events", site="bj-01", device="tab")],
                            now=T)
    sign_in(client, "olga")
    text = client.get("/dead-letters").get_data(as_text=True)
    assert "{not json" in text and "mqtt:smartmon/v1/bj-01/tab/events" in text


def test_the_audit_page_calls_the_chain_check(client, people):
    sign_in(client, "ada")
    assert page(client.get("/audit")).find(id="audit").attrs["data-url"] == "/api/v1/audit/verify"


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_case_ids_and_attributes_are_escaped(client, runtime, people, text):
    send(runtime, ("x1", f"t{text}", "seated", T, {"attrs": {"note": text}}))
    runtime.scheduler.step(T + 2 * M + S)
    sign_in(client, "mei")
    for path in ("/", f"/cases/t{text}"):
        html = client.get(path).get_data(as_text=True)
        assert text not in html and re.search(r"&lt;|&#34;|&quot;", html), path


def test_an_acknowledgement_forged_by_another_site_is_refused(client, people, breached):
    ids = alert_ids(client)
    sign_in(client, "mei")
    # What a hostile page's <form method=post action=…/ack> sends: the cookie, no JSON, its own Origin.
    forged = client.post(f"/api/v1/alerts/{ids['breach']}/ack", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert client.post(f"/api/v1/alerts/{ids['breach']}/ack", json={},
                       headers={"Origin": "http://localhost"}).status_code == 200


def test_the_history_page_shows_every_version_with_author_time_and_diff(client, runtime, people):
    sign_in(client, "olga")
    text = client.get("/api/v1/standards/files/floor.yaml").get_data(as_text=True)
    for n, within in enumerate(("3m", "4m"), start=2):
        response = client.put("/api/v1/standards/files/floor.yaml", data=text.replace("within: 2m", f"within: {within}", 1),
                              headers={"If-Match": f'"{n - 1}"', "Content-Type": "application/yaml"})
        assert response.status_code == 200 and response.json["version"] == n
    history = page(client.get("/standards/files/floor.yaml/history"))
    sections = history.find_all("section", **{"class": "version"})
    assert [s.attrs["data-version"] for s in sections] == ["3", "2", "1"]
    assert [s.find("b").all_text() for s in sections] == ["olga", "olga", "the standards directory"]  # version 1 was read from its file
    added = [span.all_text() for span in sections[0].find_all("span", **{"class": "add"})]
    removed = [span.all_text() for span in sections[0].find_all("span", **{"class": "del"})]
    assert added == ["+    within: 4m"] and removed == ["-    within: 3m"]
    # Every version but the one in force can be back-tested against it.
    assert [b.attrs["data-version"] for b in history.find_all("button", data_action="backtest")] == ["2", "1"]
    # The editor lists every version, not only the first.
    editor = page(client.get("/standards/files/floor.yaml/edit"))
    assert [r.attrs["data-version"] for r in editor.find("table", id="versions").find_all("tr", data_version=True)] == [
        "3", "2", "1"]
    assert client.get("/standards/files/nothing.yaml/history").status_code == 404


def test_a_save_warns_when_the_description_still_names_the_old_target(client, people):
    sign_in(client, "olga")
    text = client.get("/api/v1/standards/files/floor.yaml").get_data(as_text=True)
    changed = text.replace("within: 2m", "within: 3m", 1)
    backtest = client.post("/api/v1/standards/backtest?file=floor.yaml", data=changed,
                           headers={"Content-Type": "application/yaml"})
    assert backtest.status_code == 200
    warning = "greet: the target changed from 2m to 3m, but the text still says “2 minutes”"
    assert backtest.json["warnings"] == [warning]
    saved = client.put("/api/v1/standards/files/floor.yaml", data=changed, headers={"Content-Type": "application/yaml"})
    assert saved.json["warnings"] == [warning]
    fixed = changed.replace("within 2 minutes.", "within 3 minutes.", 1)
    assert client.put("/api/v1/standards/files/floor.yaml", data=fixed,
                      headers={"Content-Type": "application/yaml"}).json["warnings"] == []


def test_the_reports_page_offers_sites_with_data_that_config_does_not_name(db_url):
    from monitor.app import create_app

    app = create_app(app_config(db_url, sites=[{"id": "bj-01"}]))
    send(app.extensions["smartmon"], ("s1", "ticket-A001", "ticket_issued", T), site="bj-01-hall")
    report_page = page(app.test_client().get("/reports", headers={"Authorization": f"Bearer {ADMIN}"}))
    options = [o.attrs["value"] for o in report_page.find("select", name="site").find_all("option")]
    assert options == ["", "bj-01", "bj-01-hall"]
    app.extensions["smartmon"].db.dispose()
