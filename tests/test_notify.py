"""Notifications (SPEC §5.1): routes, groups, receivers over real loopback servers, the delivery log."""
from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor import metrics
from monitor.alerts import acknowledge
from monitor.config import Config, ConfigError
from monitor.notify.config import parse_notify
from monitor.notify.engine import Notifier
from monitor.notify.routing import route_for
from monitor.store.models import AlertRow, Notification
from tests.conftest import send
from tests.harness.processes import free_port, wait_for
from tests.harness.receivers import HookServer, SmtpSink, loopback_certificate

T = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
LATE = timedelta(seconds=150)  # a start learned this long after it happened opens its breach at once
SECRET = "s3cret"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def notifier_for(runtime, notify: dict, clock=None, **kwargs) -> Notifier:
    notifier = Notifier(runtime.db, parse_notify(notify), runtime.fanout, "test", runtime.config.site_timezone,
                        clock=clock or (lambda: datetime.now(timezone.utc)), **kwargs)
    notifier.prepare()
    return notifier


def hook(name: str, url: str, fmt: str = "json", **extra) -> dict:
    return {"name": name, "webhook": {"url": url, "format": fmt, **extra}}


def breach(runtime, case: str, site: str = "bj-01", now: datetime = T) -> None:
    send(runtime, (f"{site}-{case}", case, "seated", now - LATE), now=now, site=site)


def messages(runtime) -> list[Notification]:
    with runtime.db.session() as session:
        return session.scalars(select(Notification).order_by(Notification.seq)).all()


# -- routes ---------------------------------------------------------------------------------------
ROUTES = parse_notify({
    "receivers": [{"name": n, "webhook": {"url": "http://127.0.0.1:9/hook"}} for n in ("phones", "kitchen", "rest")],
    "routes": [
        {"match": {"sites": ["bj-*"], "kinds": ["breach", "escalation"], "to": ["floor-manager"]},
         "receiver": "phones"},
        {"match": {"standards": ["drink*", "dessert"]}, "receiver": "kitchen"},
        {"match": {"sites": ["sh-01"]}, "receiver": "phones"},
        {"receiver": "rest"},
    ]}).routes


@pytest.mark.parametrize("alert, receiver", [
    ({"site": "bj-01", "kind": "escalation", "to": "floor-manager", "standard": "greet"}, "phones"),
    ({"site": "bj-02", "kind": "breach", "to": "floor-manager", "standard": "drinks"}, "phones"),  # first match
    ({"site": "bj-01", "kind": "warning", "to": "floor-manager", "standard": "greet"}, "rest"),
    ({"site": "bj-01", "kind": "breach", "to": "bar", "standard": "drinks"}, "kitchen"),
    ({"site": "gz-01", "kind": "breach", "to": "bar", "standard": "dessert"}, "kitchen"),
    ({"site": "gz-01", "kind": "breach", "to": "bar", "standard": "desserts"}, "rest"),  # globs are whole names
    ({"site": "sh-01", "kind": "warning", "to": None, "standard": "greet"}, "phones"),
    ({"site": "xbj-01", "kind": "breach", "to": "floor-manager", "standard": "greet"}, "rest"),
])
def test_route_table_first_match_wins(alert, receiver):
    assert ROUTES[route_for(ROUTES, alert)[0]].receiver == receiver


def test_no_route_matching_means_no_message():
    routes = parse_notify({"receivers": [hook("a", "http://127.0.0.1:9/")],
                           "routes": [{"match": {"sites": ["bj-01"]}, "receiver": "a"}]}).routes
    assert route_for(routes, {"site": "sh-01", "kind": "breach"}) is None


@pytest.mark.parametrize("notify, message", [
    ({"receivers": [hook("a", "http://x/", "wechat")]},
     "notify.receivers[0].webhook.format: must be one of json, wecom, dingtalk, feishu, slack, not 'wechat'"),
    ({"receivers": [hook("a", "ftp://x/")]}, "notify.receivers[0].webhook.url: must be an http:// or https:// URL"),
    ({"receivers": [hook("a", "http://x/"), hook("a", "http://y/")]}, "notify.receivers[1].name: 'a' is used twice"),
    ({"receivers": [{"name": "m", "email": {"to": ["m@example.com"]}}]},
     "notify.receivers[0].email: e-mail needs notify.smtp with a host and a from address"),
    ({"receivers": [hook("mqtt", "http://x/")]}, "notify.receivers[0].name: 'mqtt' is the name of a built-in channel"),
    ({"receivers": [{"name": "a", "webhook": {"url": "http://x/", "sign": "k"}}]},
     "notify.receivers[0].webhook.sign: unknown key"),
    ({"receivers": [hook("a", "http://x/")], "routes": [{"receiver": "b"}]},
     "notify.routes[0].receiver: no receiver named 'b' (receivers: a)"),
    ({"receivers": [hook("a", "http://x/")], "routes": [{"receiver": "a", "match": {"kinds": ["beach"]}}]},
     "notify.routes[0].match.kinds: unknown value 'beach'"),
    ({"receivers": [hook("a", "http://x/")], "routes": [{"receiver": "a", "group_by": ["room"]}]},
     "notify.routes[0].group_by: unknown value 'room'"),
    ({"receivers": [hook("a", "http://x/")], "routes": [{"receiver": "a", "group_wait": "10 seconds"}]},
     "notify.routes[0].group_wait: bad duration"),
    ({"smtp": {"host": "127.0.0.1", "from": "nobody"}}, "notify.smtp.from: must be an e-mail address"),
    ({"smpt": {}}, "unknown configuration key 'notify.smpt'"),
    ({"smtp": {"host": "h", "from": "a@b.c", "password": 123456}}, "notify.smtp.password: must be text"),
])
def test_an_invalid_notify_section_names_the_key_that_is_wrong(notify, message):
    with pytest.raises(ConfigError) as raised:
        Config.load(overrides={"notify": notify})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value) and "123456" not in str(raised.value)  # one line, no secret


def test_the_service_refuses_to_start_with_one_line_naming_the_key(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text("notify:\n  receivers:\n    - name: phones\n      webhook: {url: 'http://127.0.0.1:9/', "
                      "format: wechat}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "monitor", "run", "--port", str(free_port())], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "MONITOR_CONFIG": str(config),
                                                      "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "configuration error: notify.receivers[0].webhook.format: must be one of json, wecom, dingtalk, feishu, "
        "slack, not 'wechat'"]


# -- grouping -------------------------------------------------------------------------------------
def test_twelve_breaches_at_one_site_in_a_lunch_rush_are_one_message(runtime):
    server = HookServer()
    clock = Clock(T)
    notifier = notifier_for(runtime, {
        "receivers": [hook("phones", server.url)],
        "routes": [{"receiver": "phones", "group_wait": "10s", "group_interval": "1m"}]}, clock)
    for n in range(12):
        breach(runtime, f"t{n}", now=T + n * 100 * timedelta(milliseconds=1))
    breach(runtime, "t99", site="sh-01")

    assert notifier.step() == 13
    assert messages(runtime) == []  # group_wait: still collecting
    clock.now = T + 9 * S
    notifier.step()
    assert messages(runtime) == []
    clock.now = T + 10 * S
    notifier.step()
    sent = messages(runtime)
    assert sorted((m.labels["site"], len(m.changes)) for m in sent) == [("bj-01", 12), ("sh-01", 1)]
    sender = notifier.senders["phones"]
    assert sender.step() == 2 and sender.step() == 0
    bodies = sorted((h.json for h in server.delivered()), key=lambda b: b["group"]["site"])
    assert [b["group"] for b in bodies] == [{"site": "bj-01"}, {"site": "sh-01"}]
    assert sorted(a["case"] for a in bodies[0]["alerts"]) == sorted(f"t{n}" for n in range(12))
    assert {a["state"] for a in bodies[0]["alerts"]} == {"open"}

    # an acknowledgement 20 s later waits for the group_interval since the last message
    with runtime.db.session() as session:
        first = session.scalars(select(AlertRow).where(AlertRow.case_id == "t0")).one()
        _, changes = acknowledge(session, first.id, "ming", "on my way", T + 20 * S)
    clock.now = T + 20 * S
    notifier.step()
    clock.now = T + 69 * S
    notifier.step()
    assert len(messages(runtime)) == 2
    clock.now = T + 70 * S
    notifier.step()
    latest = messages(runtime)[-1]
    assert [(c["action"], c["alert"]["state"], c["alert"]["note"]) for c in latest.changes] == [
        ("acknowledged", "acknowledged", "on my way")]
    server.close()


def test_quiet_empty_groups_are_forgotten(runtime):
    from monitor.store.models import NotifyGroup

    server = HookServer()
    clock = Clock(T)
    notifier = notifier_for(runtime, {"receivers": [hook("phones", server.url)], "routes": [
        {"receiver": "phones", "group_by": ["case"], "group_wait": "0s", "group_interval": "1m"}]}, clock)
    breach(runtime, "t1")
    breach(runtime, "t2")
    notifier.step()
    with runtime.db.session() as session:
        assert session.query(NotifyGroup).count() == 2
    assert notifier.router.prune(T + 60 * S) == 0  # within group_interval: still the same group
    assert notifier.router.prune(T + 61 * S) == 2
    with runtime.db.session() as session:
        assert session.query(NotifyGroup).count() == 0
    server.close()


def test_without_send_resolved_only_openings_are_sent(runtime):
    server = HookServer()
    clock = Clock(T)
    notifier = notifier_for(runtime, {"receivers": [hook("phones", server.url)], "routes": [
        {"receiver": "phones", "group_wait": "0s", "group_interval": "0s", "send_resolved": False}]}, clock)
    breach(runtime, "t1")
    notifier.step()
    send(runtime, ("g1", "t1", "greeted", T), now=T + S)  # stops the clock: the breach is resolved
    clock.now = T + 2 * S
    notifier.step()
    assert [[c["action"] for c in m.changes] for m in messages(runtime)] == [["opened"]]
    server.close()


# -- webhook delivery -----------------------------------------------------------------------------
def test_a_500_then_200_is_delivered_once_per_message_id_and_signed(runtime):
    server = HookServer(answers=[500])
    clock = Clock(T)
    notifier = notifier_for(runtime, {"receivers": [hook("phones", server.url, secret=SECRET)],
                                      "routes": [{"receiver": "phones", "group_wait": "0s"}]}, clock)
    retried = metrics.NOTIFY_RETRIED.labels("phones")._value.get()
    breach(runtime, "t1")
    notifier.step()
    sender = notifier.senders["phones"]
    assert sender.step() == 1  # answered 500
    assert sender.step() == 0  # backing off
    clock.now = T + 1 * S
    assert sender.step() == 1  # answered 200
    clock.now = T + 1 * timedelta(hours=1)
    assert sender.step() == 0  # delivered: never sent again

    first, second = server.hits
    assert (first.status, second.status) == (500, 200)
    assert first.json["id"] == second.json["id"] == second.headers["x-smartmon-message-id"]
    assert [h.json["id"] for h in server.delivered()] == [first.json["id"]]
    for hit in server.hits:
        expected = "sha256=" + hmac.new(SECRET.encode(), hit.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hit.headers["x-smartmon-signature"], expected)
    body = second.json
    assert set(body) == {"id", "receiver", "group", "alerts", "sent_at"}
    assert (body["receiver"], body["group"], body["alerts"][0]["case"]) == ("phones", {"site": "bj-01"}, "t1")
    [message] = messages(runtime)
    assert (message.state, message.attempts, message.delivered_at) == ("delivered", 2, T + S)
    assert "answered 500" in message.last_error
    assert metrics.NOTIFY_RETRIED.labels("phones")._value.get() == retried + 1
    server.close()


def test_a_4xx_fails_at_once_and_5xx_fails_when_retry_for_has_passed(runtime):
    refusing, busy = HookServer(answers=[404]), HookServer(answers=[503] * 100)
    clock = Clock(T)
    notifier = notifier_for(runtime, {
        "retry_for": "1h",
        "receivers": [hook("gone", refusing.url), hook("busy", busy.url)],
        "routes": [{"match": {"sites": ["bj-01"]}, "receiver": "gone", "group_wait": "0s"},
                   {"receiver": "busy", "group_wait": "0s"}]}, clock)
    breach(runtime, "t1")
    breach(runtime, "t2", site="sh-01")
    notifier.step()
    assert notifier.senders["gone"].step() == 1
    attempts = 0
    while notifier.senders["busy"].step():
        attempts += 1
        with runtime.db.session() as session:
            due = session.scalar(select(Notification.next_attempt_at).where(Notification.receiver == "busy"))
        clock.now = due or clock.now
    state = {m.receiver: (m.state, m.attempts) for m in messages(runtime)}
    assert state["gone"] == ("failed", 1)
    assert state["busy"][0] == "failed" and state["busy"][1] == attempts > 5
    assert clock.now == T + timedelta(hours=1)  # the back-off grew, and the last try came at retry_for
    refusing.close()
    busy.close()


@pytest.mark.parametrize("fmt, check", [
    ("wecom", lambda b: b["msgtype"] == "text" and "BREACH greet" in b["text"]["content"]),
    ("dingtalk", lambda b: b["msgtype"] == "text" and "case t1" in b["text"]["content"]),
    ("feishu", lambda b: b["msg_type"] == "text" and "bj-01" in b["content"]["text"] and "sign" in b),
    ("slack", lambda b: "[smartmon] site=bj-01: 1 alert, 1 open (1 breach)" in b["text"]),
])
def test_chat_formats_carry_the_message_as_the_platforms_text(runtime, fmt, check):
    server = HookServer()
    notifier = notifier_for(runtime, {"receivers": [hook("chat", server.url, fmt, secret=SECRET)],
                                      "routes": [{"receiver": "chat", "group_wait": "0s"}]}, Clock(T))
    breach(runtime, "t1")
    notifier.step()
    notifier.senders["chat"].step()
    [hit] = server.delivered()
    assert check(hit.json), hit.json
    if fmt == "dingtalk":
        assert "timestamp=" in hit.path and "sign=" in hit.path
    server.close()


# -- e-mail ---------------------------------------------------------------------------------------
def test_the_escalation_reaches_the_branch_manager_by_email(runtime):
    smtp = SmtpSink()
    board = HookServer()
    clock = Clock(T)
    notifier = notifier_for(runtime, {
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "from": "smartmon@example.com"},
        "receivers": [{"name": "branch-manager", "email": {"to": ["manager@example.com"]}}, hook("rest", board.url)],
        "routes": [{"match": {"kinds": ["escalation"], "to": ["floor-manager"]}, "receiver": "branch-manager",
                    "group_wait": "0s"},
                   {"receiver": "rest", "group_wait": "0s"}]}, clock)
    send(runtime, ("s1", "t1", "seated", T - 190 * S), now=T)  # breach at T-70s, first escalation at T-10s
    notifier.step()
    assert notifier.senders["branch-manager"].step() == 1
    [mail] = smtp.messages
    [message] = [m for m in messages(runtime) if m.receiver == "branch-manager"]
    assert mail["Message-ID"] == f"<{message.id}@smartmon>"
    assert mail["To"] == "manager@example.com" and mail["From"] == "smartmon@example.com"
    assert "1 escalation" in mail["Subject"]
    body = mail.get_content()
    assert "ESCALATION greet · case t1 · bj-01" in body and "→ floor-manager" in body
    assert message.state == "delivered"
    smtp.close()
    board.close()


def test_email_logs_in_when_told_and_a_refused_login_fails_for_good(runtime):
    smtp = SmtpSink(login=("smartmon", "right"))
    clock = Clock(T)

    def config(password: str) -> dict:
        return {"smtp": {"host": "127.0.0.1", "port": smtp.port, "from": "smartmon@example.com",
                         "username": "smartmon", "password": password},
                "receivers": [{"name": "manager", "email": {"to": ["manager@example.com"]}}],
                "routes": [{"receiver": "manager", "group_by": ["case"], "group_wait": "0s"}]}

    notifier = notifier_for(runtime, config("right"), clock)
    breach(runtime, "t1")
    notifier.step()
    assert notifier.senders["manager"].step() == 1
    assert len(smtp.messages) == 1
    wrong = notifier_for(runtime, config("wrong"), clock)
    breach(runtime, "t2")
    wrong.step()
    assert wrong.senders["manager"].step() == 1
    failed = [m for m in messages(runtime) if m.state == "failed"]
    assert len(failed) == 1 and "answered 535" in failed[0].last_error and "wrong" not in failed[0].last_error
    assert len(smtp.messages) == 1
    smtp.close()


def test_email_upgrades_with_starttls_before_logging_in(runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", "")  # restored after the test; loopback_certificate sets it
    smtp = SmtpSink(login=("smartmon", "right"), tls=loopback_certificate(tmp_path))
    notifier = notifier_for(runtime, {
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "from": "smartmon@example.com", "starttls": True,
                 "username": "smartmon", "password": "right"},
        "receivers": [{"name": "manager", "email": {"to": ["manager@example.com"]}}],
        "routes": [{"receiver": "manager", "group_wait": "0s"}]}, Clock(T))
    breach(runtime, "t1")
    notifier.step()
    assert notifier.senders["manager"].step() == 1
    assert [m.state for m in messages(runtime)] == ["delivered"], messages(runtime)[0].last_error
    assert len(smtp.messages) == 1
    smtp.close()


# -- isolation ------------------------------------------------------------------------------------
def test_a_receiver_that_refuses_connections_never_delays_another(runtime):
    up = HookServer()
    notifier = notifier_for(runtime, {
        "receivers": [hook("down", f"http://127.0.0.1:{free_port()}/hook"), hook("up", up.url)],
        "routes": [{"match": {"sites": ["bj-01"]}, "receiver": "down", "group_by": ["case"], "group_wait": "0s"},
                   {"receiver": "up", "group_by": ["case"], "group_wait": "0s"}]},
        first_backoff=timedelta(milliseconds=50))
    stop = threading.Event()
    threads = [threading.Thread(target=notifier.run_router, args=(stop,)),
               *[threading.Thread(target=s.run, args=(stop,)) for s in notifier.senders.values()]]
    for thread in threads:
        thread.start()
    try:
        for n in range(8):
            now = datetime.now(timezone.utc)
            breach(runtime, f"d{n}", site="bj-01", now=now)
            breach(runtime, f"u{n}", site="sh-01", now=now)
            wait_for(lambda n=n: any(a["case"] == f"u{n}" for h in up.delivered() for a in h.json["alerts"]),
                     timeout=2, message=f"u{n} delivered while 'down' refuses")
        lags = [h.at - datetime.fromisoformat(h.json["alerts"][0]["opened_at"].replace("Z", "+00:00")).timestamp()
                for h in up.delivered()]
        assert max(lags) < 1.0, lags
        down = [m for m in messages(runtime) if m.receiver == "down"]
        assert len(down) == 8 and all(m.state == "pending" for m in down)
        wait_for(lambda: all(m.attempts >= 2 for m in messages(runtime) if m.receiver == "down"), timeout=5)
        assert "could not reach http://127.0.0.1" in messages(runtime)[0].last_error
    finally:
        stop.set()
        for sender in notifier.senders.values():
            sender.wake.set()
        for thread in threads:
            thread.join(timeout=10)
        up.close()


# -- the delivery log -----------------------------------------------------------------------------
def test_the_delivery_log_lists_messages_newest_first_for_operations(runtime, client, admin):
    from monitor.auth import create_token

    server = HookServer(answers=[404])
    notifier = notifier_for(runtime, {"receivers": [hook("phones", server.url)],
                                      "routes": [{"receiver": "phones", "group_by": ["case"], "group_wait": "0s"}]},
                            Clock(T))
    for n in range(3):
        breach(runtime, f"t{n}")
    notifier.step()
    for _ in range(3):
        notifier.senders["phones"].step()
    page = client.get("/api/v1/notifications?limit=2", headers=admin).json
    assert len(page["items"]) == 2 and page["next"] == "/api/v1/notifications?limit=2&offset=2"
    rest = client.get(page["next"], headers=admin).json
    items = page["items"] + rest["items"]
    assert rest["next"] is None and len(items) == 3
    assert set(items[0]) == {"id", "receiver", "alerts", "state", "attempts", "last_error", "created_at",
                             "delivered_at"}
    with runtime.db.session() as session:
        ids = {a.case_id: a.id for a in session.scalars(select(AlertRow))}
    assert [i["alerts"] for i in items] == [[ids["t2"]], [ids["t1"]], [ids["t0"]]]
    assert [i["state"] for i in items] == ["delivered", "delivered", "failed"]  # the oldest was sent first
    assert "answered 404" in client.get("/api/v1/notifications?state=failed", headers=admin).json["items"][0]["last_error"]
    assert client.get("/api/v1/notifications?state=lost", headers=admin).status_code == 400
    with runtime.db.session() as session:
        _, auditor = create_token(session, "auditor")
    assert client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {auditor}"}).status_code == 403

    page = client.get("/dead-letters", headers=admin).get_data(as_text=True)
    assert "Notifications" in page and "answered 404" in page and ids["t2"] in page
    metrics_text = client.get("/metrics").text
    assert 'smartmon_notifications_sent_total{receiver="phones"}' in metrics_text
    assert 'smartmon_notifications_failed_total{receiver="phones"}' in metrics_text
    server.close()


def test_a_restart_without_a_receiver_fails_its_pending_messages_saying_why(runtime):
    server = HookServer(answers=[503])
    old = notifier_for(runtime, {"receivers": [hook("old", server.url)],
                                 "routes": [{"receiver": "old", "group_wait": "0s"}]}, Clock(T))
    breach(runtime, "t1")
    old.step()
    assert old.senders["old"].step() == 1  # 503: pending, to be retried
    notifier_for(runtime, {"receivers": [hook("new", server.url)], "routes": [{"receiver": "new"}]}, Clock(T + S))
    [message] = messages(runtime)
    assert (message.state, message.last_error) == ("failed", "its receiver is no longer configured")
    server.close()


def test_changes_made_while_notifications_were_off_longer_than_retry_for_are_not_sent(runtime):
    server = HookServer()
    config = {"retry_for": "1h", "receivers": [hook("phones", server.url)],
              "routes": [{"receiver": "phones", "group_wait": "0s"}]}
    notifier_for(runtime, config, Clock(T)).step()
    breach(runtime, "t1", now=T + timedelta(minutes=10))  # the service ran without notify meanwhile
    later = notifier_for(runtime, config, Clock(T + timedelta(hours=2)))
    later.step()
    assert messages(runtime) == []
    breach(runtime, "t2", now=T + timedelta(hours=2))
    later.step()
    assert [m.changes[0]["alert"]["case"] for m in messages(runtime)] == ["t2"]
    server.close()
