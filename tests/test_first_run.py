"""A first run as a newcomer makes it: a quiet console (request lines only with -v), a bad
config.yaml key in one line without a traceback, and a demo restart without ghost breaches."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests

from tests.harness.database import Db
from tests.harness.processes import ADMIN, free_port, stop_process, wait_for
from tests.harness.service import ROOT, Service, service_env

pytestmark = pytest.mark.slow


def test_the_console_has_no_request_lines_unless_asked(tmp_path, mosquitto):
    quiet = Service(tmp_path, mosquitto.url, name="quiet", client_id=f"quiet-{uuid.uuid4().hex[:6]}")
    loud = Service(tmp_path, mosquitto.url, name="loud", client_id=f"loud-{uuid.uuid4().hex[:6]}", verbose=True)
    for service in (quiet, loud):
        with service:
            assert requests.get(f"{service.url}/api/v1/standards", timeout=5).status_code == 401
    assert "smartmon listening on" in quiet.tail(None) and quiet.log_count("GET /") == 0
    assert loud.log_count("GET /healthz") >= 1 and loud.log_count("GET /api/v1/standards") == 1


@pytest.mark.parametrize("text, message", [
    ("web:\n  prot: 8080\n", "configuration error: unknown configuration key 'web.prot' (known here: host, port,"),
    ("mqtt: [\n", "config.yaml:2:1: not valid YAML"),
    ("default_timezone: Mars/Olympus\n", "unknown timezone 'Mars/Olympus'"),
])
def test_a_bad_config_yaml_is_one_line_naming_what_is_wrong(tmp_path, text, message):
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    env = {**service_env(f"sqlite:///{tmp_path}/x.db", "mqtt://127.0.0.1:1", ROOT / "standards"),
           "MONITOR_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "monitor", "run", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_demo_restart_leaves_no_ghost_breaches(tmp_path, mosquitto):
    """The simulator closes the cases it opened when `run` stops it, so nothing runs on after."""
    service = Service(tmp_path, mosquitto.url, name="demo", client_id=f"demo-{uuid.uuid4().hex[:6]}",
                      standards=ROOT / "standards",
                      extra_env={"MONITOR_SIMULATOR_ENABLED": "true", "MONITOR_SIMULATOR_SPEED": "300",
                                 "MONITOR_SIMULATOR_TABLES": "6"})
    db = Db(service.env["MONITOR_DATABASE_URL"])
    running = "SELECT count(*) FROM clocks WHERE state IN ('running', 'breached')"
    with service:
        # Under way: tables seated and served, tickets queued, some clocks running right now.
        wait_for(lambda: db.scalar("SELECT count(DISTINCT case_id) FROM clocks WHERE site = 'demo'") >= 6
                 and db.scalar(running) >= 3, 60, interval=0.2, message="the demo floor under way")
    assert service.process.returncode == 0
    assert db.scalar(running) == 0
    closed = db.scalar("SELECT count(*) FROM events WHERE attrs LIKE '%\"simulator\": \"stopped\"%'")
    assert closed >= 1
    assert db.scalar("SELECT count(*) FROM alerts WHERE state IN ('open', 'acknowledged')") == 0
    db.dispose()


def test_web_processes_run_under_gunicorn_with_threaded_workers(tmp_path):
    port = free_port()
    env = service_env(f"sqlite:///{tmp_path}/web.db", "mqtt://127.0.0.1:1", ROOT / "tests" / "engine_standards")
    log = tmp_path / "web.log"
    process = subprocess.Popen([sys.executable, "-m", "monitor", "web", "--port", str(port), "--workers", "2"],
                               cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), 60, interval=0.2, message="gunicorn web healthy")
        # Two streams at once on one process's threads, and the API beside them.
        streams = [requests.get(f"http://127.0.0.1:{port}/api/v1/alerts/stream", stream=True, timeout=10,
                                headers={"Authorization": f"Bearer {ADMIN}"}) for _ in range(2)]
        assert [s.status_code for s in streams] == [200, 200]
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/standards", timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
        for stream in streams:
            stream.close()
    finally:
        assert stop_process(process) == 0
    text = log.read_text()
    assert "Using worker: gthread" in text and text.count("Booting worker with pid") == 2
    assert "GET /" not in text  # no access log without -v


def test_gunicorns_access_log_keeps_no_token(tmp_path):
    """With -v, gunicorn writes a line per request: a ``?token=`` in the address is redacted there too."""
    port = free_port()
    env = service_env(f"sqlite:///{tmp_path}/web.db", "mqtt://127.0.0.1:1", ROOT / "tests" / "engine_standards")
    log = tmp_path / "web.log"
    process = subprocess.Popen([sys.executable, "-m", "monitor", "-v", "web", "--port", str(port), "--workers", "1"],
                               cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), 60, interval=0.2, message="gunicorn web healthy")
        for path in (f"/?token={ADMIN}", f"/api/v1/standards?site=bj-01&token={ADMIN}"):
            requests.get(f"http://127.0.0.1:{port}{path}", timeout=10, allow_redirects=False)
        wait_for(lambda: log.read_text().count("GET /") >= 3, 10, message="the access lines")
    finally:
        assert stop_process(process) == 0
    text = log.read_text()
    assert ADMIN not in text
    assert "GET /?token=[redacted]" in text and "site=bj-01&token=[redacted]" in text


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
