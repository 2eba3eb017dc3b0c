"""Configuration: defaults, then ``config.yaml`` (path from MONITOR_CONFIG), then environment.

Every key ``a.b`` can be overridden by ``MONITOR_A_B`` (``database.url`` → MONITOR_DATABASE_URL),
so an empty config.yaml is valid and containers need no file at all.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML

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


#: a place id goes into case ids (``T1/2026-11-24T18:02:05``) and CSS selectors, so no ``/`` or quotes
PLACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SITE_KEYS = {"id", "name", "timezone", "places", "close_on", "staff"}
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Place:
    """A table or counter the staff tablet shows (SPEC §8 ``sites[].places``)."""

    id: str
    name: str


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: ZoneInfo
    places: tuple[Place, ...] = ()
    #: event types that free a place (its case ends there), SPEC §6.1
    close_on: tuple[str, ...] = ()
    #: names for the tablet's staff picker
    staff: tuple[str, ...] = ()


def _merge(base: dict[str, Any], override: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        dotted = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key {dotted!r}")
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
        self.sites = self._sites()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> "Config":
        environ = os.environ if environ is None else environ
        path = path or environ.get("MONITOR_CONFIG", "config.yaml")
        values = copy.deepcopy(DEFAULTS)
        source = "defaults"
        if Path(path).is_file():
            loaded = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8")) or {}
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
        for number, entry in enumerate(self.get("sites") or []):
            if not isinstance(entry, Mapping):
                raise ConfigError(f"sites[{number}] must be a mapping with an id, got {entry!r}")
            try:
                unknown = sorted(set(entry) - SITE_KEYS)
                if unknown:
                    raise ConfigError(f"unknown configuration key 'sites[{number}].{unknown[0]}'")
                site_id = entry["id"]
                sites[site_id] = Site(site_id, entry.get("name", site_id),
                                      _zone(entry.get("timezone", self.default_timezone.key)),
                                      _places(entry.get("places") or [], f"sites[{number}].places"),
                                      _names(entry.get("close_on") or [], f"sites[{number}].close_on", EVENT_TYPE),
                                      _names(entry.get("staff") or [], f"sites[{number}].staff"))
            except (KeyError, TypeError, AttributeError):
                raise ConfigError(f"sites[{number}]: each site needs an id, got {entry!r}") from None
        return sites

    @property
    def default_timezone(self) -> ZoneInfo:
        return _zone(self.get("default_timezone"))

    def site_timezone(self, site: str) -> ZoneInfo:
        known = self.sites.get(site)
        return known.timezone if known else self.default_timezone


def _names(values: Any, key: str, pattern: re.Pattern | None = None) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise ConfigError(f"{key} must be a list, got {values!r}")
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
            rule = f"match {pattern.pattern}" if pattern else "be a non-empty text"
            raise ConfigError(f"{key}[{index}] must {rule}, got {value!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{key} names {sorted(v for v in set(values) if values.count(v) > 1)[0]!r} twice")
    return tuple(values)


def _places(values: Any, key: str) -> tuple[Place, ...]:
    """``[T1, T2]`` or ``[{id: T1, name: "Table 1"}]``, each id once."""
    if not isinstance(values, list):
        raise ConfigError(f"{key} must be a list of place ids or {{id, name}} mappings, got {values!r}")
    places = []
    for index, value in enumerate(values):
        entry = {"id": value} if isinstance(value, str) else value
        if not isinstance(entry, Mapping) or set(entry) - {"id", "name"}:
            raise ConfigError(f"{key}[{index}] must be a place id or a mapping with id and name, got {value!r}")
        place_id, name = entry.get("id"), entry.get("name", entry.get("id"))
        if not isinstance(place_id, str) or not PLACE_ID.fullmatch(place_id):
            raise ConfigError(f"{key}[{index}].id must match {PLACE_ID.pattern}, got {place_id!r}")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{key}[{index}].name must be a non-empty text, got {name!r}")
        places.append(Place(place_id, name))
    _names([p.id for p in places], key)
    return tuple(places)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {name!r}: use an IANA name such as Asia/Shanghai") from None
