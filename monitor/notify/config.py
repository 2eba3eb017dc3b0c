"""The ``notify`` section of config.yaml (SPEC §5.1), validated strictly: any mistake names its key.

Pure: no Flask, SQLAlchemy or network. Read once at start; changes take effect on restart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from monitor.core.durations import parse_duration

FORMATS = ("json", "wecom", "dingtalk", "feishu", "slack")
KINDS = ("warning", "breach", "escalation")
GROUP_KEYS = ("site", "standard", "kind", "to", "case")
#: Names the service's own channels carry in the delivery log and /metrics.
RESERVED = ("mqtt", "sse", "routes")
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class NotifyConfigError(ValueError):
    """Raised with the dotted key that is wrong first, e.g. ``notify.routes[0].receiver: …``."""


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    sender: str = ""
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class Webhook:
    url: str
    format: str = "json"
    secret: str = ""


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]


@dataclass(frozen=True)
class Receiver:
    name: str
    webhook: Webhook | None = None
    email: Email | None = None


@dataclass(frozen=True)
class Match:
    """Every key optional; ``sites`` and ``standards`` are globs (``bj-*``)."""

    sites: tuple[str, ...] | None = None
    standards: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Route:
    receiver: str
    match: Match = field(default_factory=Match)
    group_by: tuple[str, ...] = ("site",)
    group_wait: timedelta = timedelta(seconds=10)
    group_interval: timedelta = timedelta(minutes=1)
    send_resolved: bool = True


@dataclass(frozen=True)
class NotifyConfig:
    receivers: dict[str, Receiver] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    smtp: Smtp | None = None
    retry_for: timedelta = timedelta(hours=1)
    timeout: timedelta = timedelta(seconds=10)

    @property
    def enabled(self) -> bool:
        return bool(self.receivers and self.routes)


def _fail(key: str, message: str) -> None:
    raise NotifyConfigError(f"{key}: {message}")


def _mapping(value: Any, key: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(key, f"must be a mapping with the keys {', '.join(allowed)}")
    for name in value:
        if name not in allowed:
            _fail(f"{key}.{name}", f"unknown key (known here: {', '.join(allowed)})")
    return value


def _text(value: Any, key: str, *, required: bool = True, secret: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        _fail(key, "must be text" if secret else f"must be text, not {value!r}")  # a secret is never echoed
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        _fail(key, f"must be true or false, not {value!r}")
    return value


def _strings(value: Any, key: str, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        _fail(key, f"must be a list of text, not {value!r}")
    for item in value:
        if choices is not None and item not in choices:
            _fail(key, f"unknown value {item!r} (choose from {', '.join(choices)})")
    return tuple(value)


def duration(value: Any, key: str, *, zero: bool = False) -> timedelta:
    """A duration as in standards (``10s``, ``1m``); ``0s`` where ``zero`` allows it."""
    if zero and (value == 0 or (isinstance(value, str) and re.fullmatch(r"0+[dhms]?", value.strip()))):
        return timedelta(0)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    try:
        return parse_duration(value)
    except ValueError as exc:
        _fail(key, str(exc))
        raise  # unreachable; keeps type checkers content


def _smtp(value: Mapping[str, Any]) -> Smtp | None:
    key = "notify.smtp"
    value = _mapping(value or {}, key, ("host", "port", "from", "starttls", "ssl", "username", "password"))
    if not value.get("host"):
        return None
    port = value.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        _fail(f"{key}.port", f"must be a port number, not {port!r}")
    sender = _text(value.get("from"), f"{key}.from")
    if not EMAIL.match(sender.strip()):
        _fail(f"{key}.from", f"must be an e-mail address, not {sender!r}")
    starttls, ssl = _bool(value.get("starttls", False), f"{key}.starttls"), _bool(value.get("ssl", False), f"{key}.ssl")
    if starttls and ssl:
        _fail(f"{key}.starttls", "choose starttls (upgrade a plain connection) or ssl (TLS from the start), not both")
    return Smtp(_text(value["host"], f"{key}.host"), port, sender.strip(), starttls, ssl,
                _text(value.get("username", ""), f"{key}.username", required=False),
                _text(value.get("password", ""), f"{key}.password", required=False, secret=True))


def _receiver(value: Any, key: str, smtp: Smtp | None) -> Receiver:
    value = _mapping(value, key, ("name", "webhook", "email"))
    name = _text(value.get("name"), f"{key}.name")
    if not NAME.match(name):
        _fail(f"{key}.name", f"{name!r}: use 1-64 letters, digits, '_', '.' or '-'")
    if name in RESERVED:
        _fail(f"{key}.name", f"{name!r} is the name of a built-in channel ({', '.join(RESERVED)}); choose another")
    if ("webhook" in value) == ("email" in value):
        _fail(key, "give exactly one of webhook or email")
    if "webhook" in value:
        hook = _mapping(value["webhook"], f"{key}.webhook", ("url", "format", "secret"))
        url = _text(hook.get("url"), f"{key}.webhook.url", secret=True)  # robots' keys live in their URLs
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            _fail(f"{key}.webhook.url", "must be an http:// or https:// URL")
        fmt = hook.get("format", "json")
        if fmt not in FORMATS:
            _fail(f"{key}.webhook.format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
        return Receiver(name, webhook=Webhook(url, fmt, _text(hook.get("secret", ""), f"{key}.webhook.secret",
                                                                required=False, secret=True)))
    mail = _mapping(value["email"], f"{key}.email", ("to",))
    to = _strings(mail.get("to"), f"{key}.email.to")
    for address in to:
        if not EMAIL.match(address):
            _fail(f"{key}.email.to", f"{address!r} is not an e-mail address")
    if smtp is None:
        _fail(f"{key}.email", "e-mail needs notify.smtp with a host and a from address")
    return Receiver(name, email=Email(to))


def _route(value: Any, key: str, receivers: Mapping[str, Receiver]) -> Route:
    value = _mapping(value, key, ("match", "receiver", "group_by", "group_wait", "group_interval", "send_resolved"))
    receiver = _text(value.get("receiver"), f"{key}.receiver")
    if receiver not in receivers:
        _fail(f"{key}.receiver", f"no receiver named {receiver!r} (receivers: {', '.join(receivers) or 'none'})")
    match = _mapping(value.get("match") or {}, f"{key}.match", ("sites", "standards", "kinds", "to"))
    group_by = value.get("group_by", ["site"])
    return Route(
        receiver=receiver,
        match=Match(
            sites=_strings(match["sites"], f"{key}.match.sites") if "sites" in match else None,
            standards=_strings(match["standards"], f"{key}.match.standards") if "standards" in match else None,
            kinds=_strings(match["kinds"], f"{key}.match.kinds", KINDS) if "kinds" in match else None,
            to=_strings(match["to"], f"{key}.match.to") if "to" in match else None),
        group_by=() if group_by == [] else _strings(group_by, f"{key}.group_by", GROUP_KEYS),
        group_wait=duration(value.get("group_wait", "10s"), f"{key}.group_wait", zero=True),
        group_interval=duration(value.get("group_interval", "1m"), f"{key}.group_interval", zero=True),
        send_resolved=_bool(value.get("send_resolved", True), f"{key}.send_resolved"),
    )


def parse_notify(values: Mapping[str, Any]) -> NotifyConfig:
    """Validate the merged ``notify`` section (unknown top-level keys were refused by the merge)."""
    smtp = _smtp(values.get("smtp") or {})
    receivers: dict[str, Receiver] = {}
    listed = values.get("receivers") or []
    if not isinstance(listed, list):
        _fail("notify.receivers", "must be a list of receivers")
    for index, entry in enumerate(listed):
        receiver = _receiver(entry, f"notify.receivers[{index}]", smtp)
        if receiver.name in receivers:
            _fail(f"notify.receivers[{index}].name", f"{receiver.name!r} is used twice")
        receivers[receiver.name] = receiver
    routes = values.get("routes") or []
    if not isinstance(routes, list):
        _fail("notify.routes", "must be a list of routes")
    return NotifyConfig(
        receivers=receivers,
        routes=tuple(_route(entry, f"notify.routes[{i}]", receivers) for i, entry in enumerate(routes)),
        smtp=smtp,
        retry_for=duration(values.get("retry_for", "1h"), "notify.retry_for"),
        timeout=duration(values.get("timeout", "10s"), "notify.timeout"),
    )
