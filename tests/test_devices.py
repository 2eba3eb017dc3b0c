"""Device provisioning checked against a real Mosquitto using the files it writes."""
from __future__ import annotations

import subprocess
import sys
import threading

import paho.mqtt.client as paho
import pytest

from monitor.devices import password_line
from tests.conftest import ROOT_DIR
from tests.harness.processes import free_port, mosquitto_binary, port_open, wait_for


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT_DIR, capture_output=True, text=True,
                          timeout=60)


def connect(port: int, username: str, password: str) -> paho.Client | None:
    done = threading.Event()
    result = {}
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.username_pw_set(username, password)

    def on_connect(c, u, flags, reason_code, properties):
        result["ok"] = not reason_code.is_failure
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert done.wait(5)
    if not result["ok"]:
        client.loop_stop()
        return None
    return client


def test_a_provisioned_device_logs_in_and_may_publish_only_its_own_topics(tmp_path):
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    acl.write_text("user smartmon\ntopic read smartmon/v1/+/+/events\n")
    first = run_cli("devices", "provision", "bj-01", "tab-1", "--passwd-file", str(passwd), "--acl-file", str(acl))
    assert first.returncode == 0, first.stderr
    password = first.stdout.strip().splitlines()[-1]
    again = run_cli("devices", "provision", "bj-01", "tab-1", "--passwd-file", str(passwd), "--acl-file", str(acl))
    new_password = again.stdout.strip().splitlines()[-1]
    assert new_password != password
    assert passwd.read_text().count("bj-01.tab-1:") == 1  # re-provisioning replaces, never duplicates
    assert acl.read_text().count("user bj-01.tab-1") == 1 and "user smartmon" in acl.read_text()

    with passwd.open("a") as f:  # the monitor's own login, reading every device's events
        f.write(password_line("smartmon", "monitor-secret") + "\n")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # Run as root, Mosquitto drops to its own user before reading the files: keep root here, since
    # pytest's temporary folders are private.
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n")
    broker = subprocess.Popen([mosquitto_binary(), "-c", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port))
        assert connect(port, "bj-01.tab-1", password) is None  # the old password no longer works
        received: list[str] = []
        monitor = connect(port, "smartmon", "monitor-secret")
        monitor.on_message = lambda c, u, m: received.append(m.topic)
        subscribed = threading.Event()
        monitor.on_subscribe = lambda *a: subscribed.set()
        monitor.subscribe("smartmon/v1/+/+/events", qos=1)
        assert subscribed.wait(5)
        device = connect(port, "bj-01.tab-1", new_password)
        assert device is not None
        device.publish("smartmon/v1/bj-01/tab-2/events", b"{}", qos=1).wait_for_publish(5)  # not its topic
        device.publish("sh-02/tab-1/events", b"{}", qos=1).wait_for_publish(5)  # nor this
        device.publish("smartmon/v1/bj-01/tab-1/events", b"{}", qos=1).wait_for_publish(5)
        wait_for(lambda: received, message="the device's own event")
        assert received == ["smartmon/v1/bj-01/tab-1/events"]  # what was sent before it was refused
        device.loop_stop()
        monitor.loop_stop()
    finally:
        broker.terminate()
        broker.wait(timeout=10)


@pytest.mark.parametrize("site", ["bad site", "x" * 65, "a/b"])
def test_it_refuses_bad_names(tmp_path, site):
    result = run_cli("devices", "provision", site, "tab", "--passwd-file", str(tmp_path / "p"), "--acl-file",
                     str(tmp_path / "a"))
    assert result.returncode != 0 and "must match" in result.stderr
