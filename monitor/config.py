"""Configuration: defaults, then ``config.yaml`` (path from MONITOR_CONFIG), then environment.

Every key ``a.b`` can be overridden by ``MONITOR_A_B`` (``database.url`` → MONITOR_DATABASE_URL),
so an empty config.yaml is valid and containers need no file at all.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML, YAMLError

from monitor.core.durations import parse_duration

DEFAULTS: dict[str, Any] = {
    "database": {"url": "sqlite:///monitor.db"},
    "mqtt": {
        "url": "mqtt://127.0.0.1:1883",
        "embedded": "auto",
        "topic_prefix": "smartmon/v1",
        "client_id": "smartmon-worker-1",
        "shared_group": "",
        "session_expiry": 3600,
        "receive_maximum": 100,
        "max_packet_size": 2097152,
        "username": "",
        "password": "",
        "enabled": True,
    },
    "standards": {"dir": "standards", "reload_interval": "2s"},
    "ingest": {"max_future_skew": "5m", "max_payload_bytes": 262144, "max_batch": 1000, "commit_batch": 500},
    "engine": {"clock_skew_tolerance": "30s"},
    "scheduler": {"max_wait": "1s", "enabled": True},
    "web": {"host": "127.0.0.1", "port": 8080, "secret_key": "", "secure_cookies": False,
            "session_lifetime": "30d", "trusted_proxies": 0, "max_streams_per_client": 8},
    "default_timezone": "UTC",
    "sites": [],
    "admin_token": "",
    "admin_password": "",
    "simulator": {"enabled": False, "tables": 8, "speed": 1.0},
}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: ZoneInfo


def _merge(base: dict[str, Any], override: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        dotted = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key {dotted!r} (known here: {', '.join(base)})")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{dotted} must be a mapping")
            merged[key] = _merge(base[key], value, f"{dotted}.")
        else:
            merged[key] = value
    return merged


def _coerce(text: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        if text.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{name} must be true or false, not {text!r}")
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
    if isinstance(default, float):
        return float(text)
    if isinstance(default, list):
        return YAML(typ="safe").load(text)
    return text


def _apply_environment(values: dict[str, Any], environ: Mapping[str, str], prefix: str = "MONITOR_") -> None:
    for key, default in values.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(default, dict):
            _apply_environment(default, environ, f"{name}_")
        elif name in environ:
            values[key] = _coerce(environ[name], default, name)


class Config:
    """Read-only view of the merged configuration with typed accessors for what the code uses."""

    def __init__(self, values: dict[str, Any], source: str = "defaults") -> None:
        self.values = values
        self.source = source
        try:
            self.default_timezone  # noqa: B018 - checked at load, not at the first event of a new site
        except ConfigError as exc:
            raise ConfigError(f"default_timezone: {exc}") from None
        self.sites = self._sites()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> "Config":
        environ = os.environ if environ is None else environ
        path = path or environ.get("MONITOR_CONFIG", "config.yaml")
        values = copy.deepcopy(DEFAULTS)
        source = "defaults"
        if Path(path).is_file():
            try:
                loaded = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8")) or {}
            except YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
                raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
            if not isinstance(loaded, Mapping):
                raise ConfigError(f"{path}: the top level must be a mapping of keys")
            values = _merge(values, loaded)
            source = str(path)
        _apply_environment(values, environ)
        if overrides:
            values = _merge(values, overrides)
        return cls(values, source)

    def get(self, dotted: str) -> Any:
        value: Any = self.values
        for part in dotted.split("."):
            value = value[part]
        return value

    def duration(self, dotted: str) -> timedelta:
        value = self.get(dotted)
        if isinstance(value, (int, float)):
            return timedelta(seconds=value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            raise ConfigError(f"{dotted}: {exc}") from None

    def _sites(self) -> dict[str, Site]:
        sites = {}
        for entry in self.get("sites") or []:
            try:
                sites[entry["id"]] = Site(entry["id"], entry.get("name", entry["id"]), _zone(entry.get("timezone", self.default_timezone.key)))
            except (KeyError, TypeError):
                raise ConfigError(f"sites: each site needs an id, got {entry!r}") from None
        return sites

    @property
    def default_timezone(self) -> ZoneInfo:
        return _zone(self.get("default_timezone"))

    def site_timezone(self, site: str) -> ZoneInfo:
        known = self.sites.get(site)
        return known.timezone if known else self.default_timezone


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {name!r}: use an IANA name such as Asia/Shanghai") from None
