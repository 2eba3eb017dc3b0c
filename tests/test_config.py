"""Configuration: validated once at load into typed sections; a bad value is one line naming the key."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML

from monitor.config import DEFAULTS, Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_config_yaml_is_the_defaults():
    """config.yaml documents every key with its default, so the file and the code never drift apart;
    only ``sites`` differs: it declares the demo's site (its timezone and name)."""
    shipped = YAML(typ="safe").load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert {k: v for k, v in shipped.items() if k != "sites"} == {k: v for k, v in DEFAULTS.items() if k != "sites"}
    assert DEFAULTS["sites"] == [] and list(Config.load(ROOT / "config.yaml", environ={}).sites) == ["bj-01"]


def test_an_empty_file_gives_typed_sections(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = Config.load(empty, environ={})
    assert config.mqtt.receive_maximum == 100 and config.mqtt.embedded == "auto"
    assert config.standards.reload_interval == timedelta(seconds=2)
    assert config.ingest.max_future_skew == timedelta(minutes=5)
    assert config.web.session_lifetime == timedelta(days=30)
    assert config.default_timezone == ZoneInfo("UTC")


def test_the_environment_overrides_with_types(tmp_path):
    config = Config.load(tmp_path / "none.yaml", environ={
        "MONITOR_MQTT_RECEIVE_MAXIMUM": "20", "MONITOR_SCHEDULER_ENABLED": "off",
        "MONITOR_STANDARDS_RELOAD_INTERVAL": "1m", "MONITOR_DATABASE_URL": "sqlite:///x.db"})
    assert config.mqtt.receive_maximum == 20 and config.scheduler.enabled is False
    assert config.standards.reload_interval == timedelta(minutes=1) and config.database.url == "sqlite:///x.db"


def test_yaml_booleans_for_embedded_mean_auto_and_never():
    assert Config.load("/nonexistent", environ={}, overrides={"mqtt": {"embedded": False}}).mqtt.embedded == "never"
    assert Config.load("/nonexistent", environ={}, overrides={"mqtt": {"embedded": True}}).mqtt.embedded == "auto"


def test_sections_are_frozen():
    config = Config.load("/nonexistent", environ={})
    with pytest.raises(AttributeError):
        config.mqtt.url = "mqtt://elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize("text, message", [
    ("mqtt: {recieve_maximum: 10}", "unknown configuration key 'mqtt.recieve_maximum'"),
    ("mqtt: {receive_maximum: lots}", "mqtt.receive_maximum: not a valid integer"),
    ("mqtt: {receive_maximum: 0}", "mqtt.receive_maximum: must be greater than or equal to 1"),
    ("mqtt: {embedded: sometimes}", "mqtt.embedded: must be one of: auto, always, never"),
    ("web: {port: 70000}", "web.port: must be greater than or equal to 0 and less than or equal to 65535"),
    ("standards: {reload_interval: soon}", "standards.reload_interval: bad duration 'soon'"),
    ("ingest: {max_future_skew: true}", "ingest.max_future_skew: must be a duration such as 90s, 2m or 1h30m"),
    ("default_timezone: Mars/Olympus", "default_timezone: unknown timezone 'Mars/Olympus'"),
    ("sites: [{id: bj-01, timezone: Nowhere}]", "sites[0].timezone: unknown timezone 'Nowhere'"),
    ("sites: [{name: no id}]", "sites[0]: each site needs an id"),
    ("web: [1, 2]", "web must be a mapping"),
    ("mqtt: {url: [unclosed", "not valid YAML"),
])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        Config.load(path, environ={})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_command_line_says_it_in_one_line_without_a_traceback(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("mqtt:\n  recieve_maximum: 10\n")
    done = subprocess.run([sys.executable, "-m", "monitor", "db", "upgrade"], capture_output=True, text=True,
                          cwd=ROOT, env={"MONITOR_CONFIG": str(path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("configuration error: unknown configuration key 'mqtt.recieve_maximum' (known here: ")


@pytest.mark.parametrize("verbose", [False, True])
def test_request_and_migration_lines_only_with_verbose(tmp_path, verbose):
    """The console is for what a person must read: werkzeug's line per request and Alembic's line per
    migration check appear only with ``python -m monitor -v``."""
    env = {"MONITOR_CONFIG": os.devnull, "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/m.db", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "monitor", *(["-v"] if verbose else []), "db", "upgrade"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ("alembic.runtime.migration" in done.stderr) is verbose
    assert "database is at the newest schema" in done.stdout
