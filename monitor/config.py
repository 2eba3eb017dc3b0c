"""Configuration: defaults, then ``config.yaml`` (path from MONITOR_CONFIG), then environment.

Every key ``a.b`` can be overridden by ``MONITOR_A_B`` (``database.url`` → MONITOR_DATABASE_URL),
so an empty config.yaml is valid and containers need no file at all.
"""
from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, validate
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
    "scheduler": {"max_wait": "1s", "enabled": True, "park_for": "1m"},
    "notify": {
        "smtp": {"host": "", "port": 25, "from": "", "starttls": False, "ssl": False, "username": "", "password": ""},
        "receivers": [],
        "routes": [],
        "retry_for": "1h",
        "timeout": "10s",
    },
    "web": {"host": "127.0.0.1", "port": 8080, "secret_key": "", "secure_cookies": False,
            "session_lifetime": "30d", "trusted_proxies": 0, "max_streams_per_client": 8},
    "default_timezone": "UTC",
    "sites": [],
    "admin_token": "",
    "admin_password": "",
    "simulator": {"enabled": False, "tables": 8, "speed": 1.0},
}


EMBEDDED_MODES = ("auto", "always", "never")


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


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


@dataclass(frozen=True)
class MqttSettings:
    url: str
    embedded: str = field(metadata={"validate": validate.OneOf(EMBEDDED_MODES)})
    topic_prefix: str = field(metadata={"validate": validate.Length(min=1)})
    client_id: str = field(metadata={"validate": validate.Length(min=1, max=128)})
    shared_group: str
    session_expiry: int = field(metadata={"validate": validate.Range(min=0)})
    receive_maximum: int = field(metadata={"validate": validate.Range(min=1, max=65535)})
    max_packet_size: int = field(metadata={"validate": validate.Range(min=1024)})
    username: str
    password: str
    enabled: bool


@dataclass(frozen=True)
class StandardsSettings:
    dir: str
    reload_interval: timedelta


@dataclass(frozen=True)
class IngestSettings:
    max_future_skew: timedelta
    max_payload_bytes: int = field(metadata={"validate": validate.Range(min=1)})
    max_batch: int = field(metadata={"validate": validate.Range(min=1)})
    commit_batch: int = field(metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class EngineSettings:
    clock_skew_tolerance: timedelta


@dataclass(frozen=True)
class SchedulerSettings:
    max_wait: timedelta
    enabled: bool
    park_for: timedelta


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int = field(metadata={"validate": validate.Range(min=0, max=65535)})
    secret_key: str
    secure_cookies: bool
    session_lifetime: timedelta
    trusted_proxies: int = field(metadata={"validate": validate.Range(min=0)})
    max_streams_per_client: int = field(metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class SimulatorSettings:
    enabled: bool
    tables: int = field(metadata={"validate": validate.Range(min=1)})
    speed: float = field(metadata={"validate": validate.Range(min=0, min_inclusive=False)})


class _Duration(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> timedelta:
        if isinstance(value, bool):
            raise ValidationError("must be a duration such as 90s, 2m or 1h30m")
        if isinstance(value, (int, float)):
            return timedelta(seconds=value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


_FIELD_OF_TYPE = {"str": lambda: fields.Str(), "int": lambda: fields.Int(strict=True),
                  "bool": lambda: fields.Bool(), "float": lambda: fields.Float(),
                  "timedelta": lambda: _Duration()}


@functools.cache
def _schema(section: type) -> Schema:
    """The marshmallow schema of a settings dataclass, from its field types (unknown keys refused)."""
    declared = {f.name: _FIELD_OF_TYPE[f.type](**{}) for f in dataclass_fields(section)}
    for f in dataclass_fields(section):
        declared[f.name].required = True
        if "validate" in f.metadata:
            declared[f.name].validators.append(f.metadata["validate"])
    return Schema.from_dict(declared, name=f"{section.__name__}Schema")(unknown=RAISE)


def _section(section: type, key: str, values: Mapping[str, Any]) -> Any:
    try:
        return section(**_schema(section).load(values))
    except ValidationError as exc:
        name, problem = _first_error(exc.messages)
        raise ConfigError(f"{key}.{name}: {problem}") from None


def _first_error(messages: Any) -> tuple[str, str]:
    name, problem = next(iter(messages.items()))
    problem = problem[0] if isinstance(problem, list) else problem
    return name, str(problem).rstrip(".").lower() if str(problem).startswith(("Not a valid", "Must be")) else str(problem)


class Config:
    """The configuration, validated once at load into frozen typed sections; each part of the
    service is handed the section it needs. ``values`` keeps the merged raw values."""

    def __init__(self, values: dict[str, Any], source: str = "defaults") -> None:
        from monitor.notify.config import NotifyConfigError, parse_notify

        self.values = values
        self.source = source
        if isinstance(values["mqtt"].get("embedded"), bool):  # YAML `embedded: false` / `true`
            values["mqtt"]["embedded"] = "auto" if values["mqtt"]["embedded"] else "never"
        self.database: DatabaseSettings = _section(DatabaseSettings, "database", values["database"])
        self.mqtt: MqttSettings = _section(MqttSettings, "mqtt", values["mqtt"])
        self.standards: StandardsSettings = _section(StandardsSettings, "standards", values["standards"])
        self.ingest: IngestSettings = _section(IngestSettings, "ingest", values["ingest"])
        self.engine: EngineSettings = _section(EngineSettings, "engine", values["engine"])
        self.scheduler: SchedulerSettings = _section(SchedulerSettings, "scheduler", values["scheduler"])
        self.web: WebSettings = _section(WebSettings, "web", values["web"])
        self.simulator: SimulatorSettings = _section(SimulatorSettings, "simulator", values["simulator"])
        self.admin_token: str = _text(values, "admin_token")
        self.admin_password: str = _text(values, "admin_password")
        self.default_timezone: ZoneInfo = _zone(values["default_timezone"], "default_timezone")
        self.sites = self._sites()
        try:
            self.notify = parse_notify(values["notify"])
        except NotifyConfigError as exc:
            raise ConfigError(str(exc)) from None

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

    def _sites(self) -> dict[str, Site]:
        sites = {}
        for number, entry in enumerate(self.values["sites"] or []):
            if not isinstance(entry, Mapping):
                raise ConfigError(f"sites[{number}] must be a mapping with an id, got {entry!r}")
            try:
                unknown = sorted(set(entry) - SITE_KEYS)
                if unknown:
                    raise ConfigError(f"unknown configuration key 'sites[{number}].{unknown[0]}'")
                site_id = entry["id"]
                sites[site_id] = Site(site_id, entry.get("name", site_id),
                                      _zone(entry.get("timezone", self.default_timezone.key), f"sites[{number}].timezone"),
                                      _places(entry.get("places") or [], f"sites[{number}].places"),
                                      _names(entry.get("close_on") or [], f"sites[{number}].close_on", EVENT_TYPE),
                                      _names(entry.get("staff") or [], f"sites[{number}].staff"))
            except (KeyError, TypeError, AttributeError):
                raise ConfigError(f"sites[{number}]: each site needs an id, got {entry!r}") from None
        return sites

    def site_timezone(self, site: str) -> ZoneInfo:
        known = self.sites.get(site)
        return known.timezone if known else self.default_timezone


def _text(values: Mapping[str, Any], key: str) -> str:
    if not isinstance(values[key], str):
        raise ConfigError(f"{key}: must be text")
    return values[key]


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


def _zone(name: Any, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown timezone {name!r}: use an IANA name such as Asia/Shanghai") from None
