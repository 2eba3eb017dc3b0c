"""The real service process (``python -m monitor run``): no secret in its whole log output, and a
restart signs nobody out (SPEC §6)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.harness.processes import ADMIN
from tests.harness.service import ROOT, Service

pytestmark = pytest.mark.slow
PASSWORD = "Correct-Horse-Battery-9"
ADMIN_PASSWORD = "Bootstrap-Admin-Pw-77"
WRONG = "Wrong-Guess-Pw-4711"


def cli(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT, env=env, input=stdin, text=True,
                          capture_output=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_no_secret_reaches_the_log_and_a_restart_ends_no_session(tmp_path):
    db_url = f"sqlite:///{tmp_path}/service.db"
    env = {**os.environ, "MONITOR_CONFIG": os.devnull, "MONITOR_DATABASE_URL": db_url}
    cli(env, "user", "create", "mei", "--role", "manager", "--password-stdin", stdin=PASSWORD + "\n")
    wall_token = cli(env, "token", "create", "--role", "manager", "--name", "wall-1")
    device_token = cli(env, "token", "create", "--role", "device", "--site", "bj-01")
    bogus_token = "smk_" + "n0tAreal" * 5
    service = Service(tmp_path, "mqtt://127.0.0.1:1", db_url=db_url,
                      extra_env={"MONITOR_MQTT_ENABLED": "false", "MONITOR_ADMIN_PASSWORD": ADMIN_PASSWORD},
                      verbose=True)  # with the access log, which must be redacted too
    service.start()
    try:
        url = service.url
        person = requests.Session()
        assert person.post(f"{url}/login", data={"username": "mei", "password": WRONG},
                           allow_redirects=False).status_code == 401
        # A password typed into the name field is a secret too.
        assert person.post(f"{url}/login", data={"username": PASSWORD, "password": WRONG},
                           allow_redirects=False).status_code == 401
        assert person.post(f"{url}/login?next=/standards", data={"username": "mei", "password": PASSWORD},
                           allow_redirects=False).status_code == 302
        admin = requests.Session()
        assert admin.post(f"{url}/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                          allow_redirects=False).status_code == 302
        wall = requests.Session()
        assert wall.get(f"{url}/?site=bj-01&token={wall_token}&kiosk=1", allow_redirects=False).status_code == 302
        assert wall.get(f"{url}/?site=bj-01&kiosk=1").status_code == 200
        assert requests.get(f"{url}/standards?token={device_token}").status_code == 403
        assert requests.get(f"{url}/?token={bogus_token}").status_code == 401
        assert requests.get(f"{url}/api/v1/alerts?token={wall_token}").status_code == 401
        bearer = {"Authorization": f"Bearer {wall_token}"}
        assert requests.get(f"{url}/api/v1/alerts", headers=bearer).status_code == 200
        assert requests.get(f"{url}/api/v1/alerts", headers={"Authorization": f"Bearer {bogus_token}"}).status_code == 401
        event = [{"id": "e1", "case": "t1", "type": "seated", "at": "2026-11-24T10:00:00Z"}]
        assert requests.post(f"{url}/api/v1/events", json=event,
                             headers={"Authorization": f"Bearer {device_token}"}).status_code == 202
        assert service.api("GET", "/alerts").status_code == 200
        cookies = [c.value for s in (person, admin, wall) for c in s.cookies]

        # A real restart: the same sessions still open their pages.
        assert service.terminate() == 0
        service.start()
        assert person.get(f"{url}/standards", allow_redirects=False).status_code == 200
        assert admin.get(f"{url}/dead-letters", allow_redirects=False).status_code == 200
        assert wall.get(f"{url}/?site=bj-01&kiosk=1", allow_redirects=False).status_code == 200
    finally:
        service.stop()
    log = service.log.read_text()
    assert "GET /?site=bj-01&token=[redacted]&kiosk=1" in log  # the access log is there, redacted
    for secret in (PASSWORD, ADMIN_PASSWORD, WRONG, ADMIN, wall_token, device_token, bogus_token, *cookies):
        assert secret not in log, f"a secret ({secret[:4]}…) is in the service log"
