"""How a device hands events to the monitor: MQTT (SPEC §2) or HTTP (SPEC §6), one interface.

Both senders take a list of SPEC §1 event dicts in ``send(events)`` and return only when the
monitor side has acknowledged them (a PUBACK per MQTT message, a ``202`` per HTTP batch), so a
caller that gets no exception knows its events are with the broker or the monitor. Events carry
stable ids, so resending after an error is always safe: the monitor stores each id once.

Nothing here imports ``monitor``: a device only knows the wire contract.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Protocol
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import requests

DEFAULT_PREFIX = "smartmon/v1"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
MAX_BATCH = 1000  # SPEC §1: a payload holds at most 1000 events
MAX_PAYLOAD_BYTES = 256 * 1024  # SPEC §1: payload size limit
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # SPEC §2: site and device names

Event = dict[str, Any]


class SendError(RuntimeError):
    """Events could not be handed over. ``retryable`` says whether trying again can help
    (broker or server away, timeouts) or not (refused credentials, a 4xx answer)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class SendResult:
    """What the other side said. MQTT only confirms delivery to the broker, so ``accepted`` and
    ``duplicates`` are ``None`` there; HTTP reports the monitor's own verdict (SPEC §6)."""

    sent: int = 0
    accepted: int | None = None
    duplicates: int | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: "SendResult") -> None:
        self.sent += other.sent
        if other.accepted is not None:
            self.accepted = (self.accepted or 0) + other.accepted
        if other.duplicates is not None:
            self.duplicates = (self.duplicates or 0) + other.duplicates
        self.rejected.extend(other.rejected)


class Sender(Protocol):
    """The one interface every transport offers; replay and the simulator only see this."""

    def send(self, events: list[Event]) -> SendResult: ...

    def close(self) -> None: ...


def utc_now_iso() -> str:
    """Now as RFC 3339 with offset, millisecond precision (what SPEC §1 ``at`` expects)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def mqtt_url_from_env() -> str:
    return os.environ.get("MONITOR_MQTT_URL") or DEFAULT_MQTT_URL


def check_name(kind: str, value: str) -> str:
    """Site and device names end up in topics, where ``/``, ``+`` or ``#`` would change the
    meaning of a subscription, hence the strict SPEC §2 alphabet."""
    if not NAME_RE.match(value):
        raise ValueError(f"{kind} {value!r} must match [A-Za-z0-9_-]{{1,64}}")
    return value


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` (1883) or ``mqtts://…`` (8883, TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ValueError(f"not an MQTT URL: {url!r} (expected mqtt://host:port)")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def chunk_events(events: list[Event], max_count: int) -> Iterator[list[Event]]:
    """Split into payloads of at most ``max_count`` events and at most 256 KiB each.

    A batch over the byte limit is halved until it fits; a single event that is too large on its
    own is still sent, so the monitor dead-letters it with a reason instead of it vanishing here.
    """
    max_count = max(1, min(max_count, MAX_BATCH))
    for start in range(0, len(events), max_count):
        yield from _split_by_size(events[start : start + max_count])


def _split_by_size(batch: list[Event]) -> Iterator[list[Event]]:
    if len(batch) <= 1 or len(encode(batch)) <= MAX_PAYLOAD_BYTES:
        yield batch
        return
    middle = len(batch) // 2
    yield from _split_by_size(batch[:middle])
    yield from _split_by_size(batch[middle:])


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class MqttPublisher:
    """Publishes events to ``{prefix}/{site}/{device}/events`` with QoS 1 (SPEC §2).

    It announces itself with a retained ``online`` status on every (re)connect and leaves a
    retained ``offline`` Last Will, so the monitor can tell a silent floor from a dead tablet
    (SPEC §3.2 data gaps). ``send`` keeps at most ``window`` messages unacknowledged — enough to
    keep the pipe full, small enough that a stalled broker stops us instead of filling memory —
    and returns once every message it published has its PUBACK.

    An event whose ``site`` names another (valid) site is published under that site's topic, so a
    replayed multi-site log arrives where its events say they belong.
    """

    def __init__(
        self,
        site: str,
        device: str,
        url: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        batch: int = 100,
        window: int = 20,
        timeout: float = 60.0,
        client_id: str | None = None,
    ) -> None:
        self.site = check_name("site", site)
        self.device = check_name("device", device)
        self.address = parse_mqtt_url(url or mqtt_url_from_env())
        self.prefix = prefix.rstrip("/")
        self.batch = batch
        self.window = max(1, window)
        self.timeout = timeout
        self._cond = threading.Condition()
        self._pending: set[int] = set()  # mids published, PUBACK not yet seen
        self._early: set[int] = set()  # PUBACKs that overtook our bookkeeping of their mid
        self._connected = False
        self._refused: str | None = None
        self._client = self._make_client(client_id or f"{site}.{device}-{uuid.uuid4().hex[:8]}")
        self._open()

    # -- topics -----------------------------------------------------------------------------

    def events_topic(self, site: str | None = None) -> str:
        return f"{self.prefix}/{site or self.site}/{self.device}/events"

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/{self.site}/{self.device}/status"

    # -- connection -------------------------------------------------------------------------

    def _make_client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _open(self) -> None:
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise SendError(
                f"cannot reach MQTT broker {self.address.host}:{self.address.port}: {exc}",
                retryable=True,
            ) from exc
        self._client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self._connected or self._refused, timeout=self.timeout)
        if not self._connected:
            self._client.loop_stop()
            reason = self._refused or "no CONNACK within timeout"
            raise SendError(f"MQTT connect to {self.address.host}:{self.address.port} failed: {reason}",
                            retryable=self._refused is None)

    def _status(self, state: str) -> bytes:
        return encode({"state": state, "at": utc_now_iso()})

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            with self._cond:
                self._refused = str(reason_code)
                self._cond.notify_all()
            client.disconnect()
            return
        # Re-announced on every reconnect: the broker may have fired our Will meanwhile.
        info = client.publish(self.status_topic, self._status("online"), qos=1, retain=True)
        self._track(info.mid)
        with self._cond:
            self._connected = True
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho calls this holding its own outgoing-message lock, and may do so before
        # publish() has returned the mid to us; so never hold our lock around publish().
        with self._cond:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early.add(mid)
            self._cond.notify_all()

    def _track(self, mid: int) -> None:
        with self._cond:
            if mid in self._early:
                self._early.discard(mid)
            else:
                self._pending.add(mid)

    # -- sending ----------------------------------------------------------------------------

    def send(self, events: list[Event]) -> SendResult:
        """Publish ``events`` in batches and return when the broker has acknowledged them all."""
        mine: list[int] = []
        for site, group in self._group_by_topic_site(events):
            for batch in chunk_events(group, self.batch):
                self._wait_window(mine, self.window - 1)
                info = self._client.publish(self.events_topic(site), encode(batch), qos=1)
                if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                    raise SendError("MQTT client queue full", retryable=True)
                # rc NO_CONN is fine: paho keeps the message and sends it after reconnecting.
                self._track(info.mid)
                mine.append(info.mid)
        self._wait_window(mine, 0)
        return SendResult(sent=len(events))

    def _group_by_topic_site(self, events: list[Event]) -> list[tuple[str, list[Event]]]:
        groups: dict[str, list[Event]] = {}
        for event in events:
            site = event.get("site") if isinstance(event, dict) else None
            if not (isinstance(site, str) and NAME_RE.match(site)):
                site = self.site
            groups.setdefault(site, []).append(event)
        return list(groups.items())

    def _wait_window(self, mids: list[int], allowed: int) -> None:
        """Block until at most ``allowed`` of ``mids`` are unacknowledged (prunes ``mids``)."""

        def settled() -> bool:
            mids[:] = [m for m in mids if m in self._pending]
            return len(mids) <= allowed

        with self._cond:
            if not self._cond.wait_for(settled, timeout=self.timeout):
                raise SendError(
                    f"{len(mids)} MQTT messages without PUBACK after {self.timeout:g}s",
                    retryable=True,
                )

    def close(self) -> None:
        """Say ``offline`` ourselves (a clean disconnect does not fire the Will) and disconnect."""
        try:
            if self._connected:
                info = self._client.publish(self.status_topic, self._status("offline"), qos=1, retain=True)
                self._track(info.mid)
                self._wait_window([info.mid], 0)
        except SendError:
            pass  # closing anyway; the Will covers us
        finally:
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> "MqttPublisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpSender:
    """POSTs batches to ``{url}/api/v1/events`` with a device bearer token (SPEC §6).

    The monitor answers ``202 {accepted, duplicates, rejected:[{index, reason}]}``; rejected
    indexes are translated back to positions in the list given to ``send``. Connection errors
    and 5xx answers are retried a few times: ids make a resend harmless.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        batch: int = 1000,
        timeout: float = 60.0,
        attempts: int = 3,
        session: requests.Session | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/api/v1/events") else f"{base}/api/v1/events"
        self.batch = min(max(1, batch), MAX_BATCH)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self._session = session or requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}"})

    def send(self, events: list[Event]) -> SendResult:
        total = SendResult()
        offset = 0
        for batch in chunk_events(events, self.batch):
            result = self._post(batch)
            for item in result.rejected:
                if isinstance(item.get("index"), int):
                    item["index"] += offset
            total.add(result)
            offset += len(batch)
        return total

    def _post(self, batch: list[Event]) -> SendResult:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post_once(batch)
            except SendError as exc:
                if not exc.retryable or attempt == self.attempts:
                    raise
                time.sleep(0.5 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _post_once(self, batch: list[Event]) -> SendResult:
        try:
            response = self._session.post(
                self.endpoint,
                data=encode(batch),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SendError(f"POST {self.endpoint} failed: {exc}", retryable=True) from exc
        if response.status_code not in (200, 201, 202):
            raise SendError(
                f"POST {self.endpoint}: HTTP {response.status_code}: {_error_text(response)}",
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        return _parse_reply(response, len(batch))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "HttpSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_reply(response: requests.Response, count: int) -> SendResult:
    try:
        body = response.json()
    except ValueError:
        body = {}
    rejected = body.get("rejected") if isinstance(body, dict) else None
    return SendResult(
        sent=count,
        accepted=_int_or_none(body, "accepted"),
        duplicates=_int_or_none(body, "duplicates"),
        rejected=[dict(r) for r in rejected if isinstance(r, dict)] if isinstance(rejected, list) else [],
    )


def _int_or_none(body: Any, key: str) -> int | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, int) else None


def _error_text(response: requests.Response) -> str:
    """The SPEC §6 error message when there is one, else the start of the body."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        return response.text[:200]


def open_sender(
    to: str,
    *,
    site: str,
    device: str,
    mqtt_url: str | None = None,
    url: str | None = None,
    token: str | None = None,
    batch: int = 100,
    prefix: str = DEFAULT_PREFIX,
) -> Sender:
    """Build the transport a command line asked for; raises ValueError on incomplete options."""
    if to == "mqtt":
        return MqttPublisher(site, device, mqtt_url, prefix=prefix, batch=batch)
    if to == "http":
        if not url or not token:
            raise ValueError("--to http needs --url and --token")
        return HttpSender(url, token, batch=batch)
    raise ValueError(f"unknown transport {to!r} (mqtt or http)")


def iter_batches(items: Iterable[Event], size: int) -> Iterator[list[Event]]:
    """Group a stream into lists of ``size`` without reading it all first."""
    batch: list[Event] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
