"""The paho-mqtt bridge: subscribe to device topics, ingest, acknowledge after commit; publish alerts.

Delivery rules from MQTT-NOTES.md, each of which loses data when broken:
- a persistent session: a stable client id, ``clean_start=False`` and a session expiry (paho's
  default ``MQTT_CLEAN_START_FIRST_ONLY`` wipes the backlog on every process start);
- manual acks, sent only after the events are committed, in arrival order;
- a bounded hand-over queue and the MQTT v5 Receive Maximum, so a slow database slows the broker
  instead of filling memory;
- an ack is never sent on a newer connection than the message came on (paho drops pending acks on
  reconnect and the broker redelivers; the event id de-duplicates).
"""
from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitor import metrics
from monitor.config import MqttSettings
from monitor.core.messages import msg
from monitor.ingest import EVENTS, STATUS, Delivery, Ingestor
from monitor.notify.channel import Batch, ChannelError
from monitor.store.db import TRANSIENT

log = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Payload bytes committed in one transaction at most (about 2,000 events of a typical size).
BATCH_BYTES = 512 * 1024
#: How long a batch of alert changes may wait for the broker's PUBACKs.
PUBACK_TIMEOUT_S = 5.0


def parse_url(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"MQTT URL {url!r}: use mqtt://HOST:PORT")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


@dataclass
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    retained: bool = False


class MqttBridge:
    """Created unbound, bound to the services with :meth:`init` (one per runtime, so tests can run several)."""

    name = "mqtt"

    def __init__(self) -> None:
        self.client: paho.Client | None = None
        self.ingestor: Ingestor | None = None
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self._generation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[_Message] = queue.Queue()

    def init(self, settings: MqttSettings, ingestor: Ingestor, *, client_id: str, shared_group: str = "",
             commit_batch: int = 500, mqtt5: bool = True) -> None:
        """Bind to the ingestion door, as the ``mqtt`` settings say; ``client_id`` and
        ``shared_group`` are the process's own (``worker --id``).

        ``mqtt5=False`` speaks MQTT 3.1.1 (the embedded amqtt broker knows nothing newer) with
        ``clean_session=False``, the 3.1.1 way of keeping the session."""
        self.host, self.port = parse_url(settings.url)
        self.prefix = settings.topic_prefix.rstrip("/")
        self.ingestor = ingestor
        self.commit_batch = commit_batch
        self.session_expiry = settings.session_expiry
        self.receive_maximum = settings.receive_maximum
        self.shared_group = shared_group
        self._queue = queue.Queue(maxsize=max(settings.receive_maximum, commit_batch) * 2)
        self.mqtt5 = mqtt5
        self.max_packet_size = settings.max_packet_size
        username, password = settings.username, settings.password
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
                                  clean_session=None if mqtt5 else False, manual_ack=True)
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        assert self.client is not None, "init() first"
        if self.mqtt5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.session_expiry
            properties.ReceiveMaximum = self.receive_maximum
            # Memory stays bounded by Receive Maximum × this. Keep the broker's max_packet_size
            # below it, so the broker refuses a larger publish instead of dropping it for us.
            properties.MaximumPacketSize = self.max_packet_size
            self.client.connect_async(self.host, self.port, keepalive=60, clean_start=False, properties=properties)
        else:
            self.client.connect_async(self.host, self.port, keepalive=60)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._ingest_loop, name="mqtt-ingest", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Drain what was handed over (committed and acked), then disconnect."""
        deadline = time.monotonic() + drain_timeout
        while self._thread and not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=drain_timeout)
        if self.client:
            self.client.disconnect()
            self.client.loop_stop()

    @property
    def topics(self) -> list[str]:
        topics = [f"{self.prefix}/+/+/events", f"{self.prefix}/+/+/status"]
        if self.shared_group:
            return [f"$share/{self.shared_group}/{t}" for t in topics]
        return topics

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connection refused: %s", reason_code)
            return
        self._generation += 1
        self.connected.set()
        log.info("connected to MQTT broker %s:%s (session present: %s)", self.host, self.port,
                 flags.session_present)
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if all(not code.is_failure for code in reason_codes):
            self.subscribed.set()
            metrics.MQTT_CONNECTED.set(1)
            log.info("subscribed to %s", ", ".join(self.topics))
        else:
            log.error("MQTT subscription refused: %s", reason_codes)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        metrics.MQTT_CONNECTED.set(0)
        if not self._stop.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        # Never raise here: paho would stop the loop (or, suppressed, ack and lose the message).
        # Blocking on a full queue is the backpressure: the broker stops sending at Receive Maximum.
        self._queue.put(_Message(message.topic, message.payload, message.mid, message.qos, self._generation,
                                 bool(message.retain)))

    # -- ingestion thread -------------------------------------------------------------------
    def _ingest_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch:
                self._handle_until_stored(batch)

    def _take_batch(self) -> list[_Message]:
        """What is waiting, up to ``commit_batch`` messages or BATCH_BYTES of payload: one transaction
        stays short even when each message carries a batch of events."""
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        size = len(batch[0].payload)
        while len(batch) < self.commit_batch and size < BATCH_BYTES:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
            size += len(batch[-1].payload)
        return batch

    def _handle_until_stored(self, batch: list[_Message]) -> None:
        """Keep the batch unacknowledged while the database is away (the broker holds the rest).

        Only a transient database error is retried: anything else would block every message behind
        the one that caused it, so the batch is split and a message that fails on its own is
        dead-lettered with the error as its reason, then acknowledged.
        """
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.ingestor.ingest([self._delivery(m) for m in batch])
                break
            except TRANSIENT as exc:
                log.warning("could not store %d MQTT messages, the database is unavailable (%s); they stay "
                            "unacknowledged, retrying in %.1fs", len(batch), str(exc).splitlines()[0][:200], delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - one bad message must not stop ingestion
                log.exception("storing %d MQTT messages failed; storing them one by one", len(batch))
                self._store_one_by_one(batch)
                break
        else:
            return  # stopping: leave the batch unacknowledged, the broker redelivers it
        for message in batch:
            if message.qos > 0 and message.generation == self._generation:
                self.client.ack(message.mid, message.qos)
        metrics.INGEST_BATCH.observe(len(batch))

    def _store_one_by_one(self, batch: list[_Message]) -> None:
        for message in batch:
            try:
                self.ingestor.ingest([self._delivery(message)])
            except TRANSIENT:
                raise
            except Exception as exc:  # noqa: BLE001 - dead-letter it rather than block the queue
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                reason = msg("could not be stored: {error}", error=error)
                self.ingestor.ingest([Delivery(message.payload, f"mqtt:{message.topic}", refused=reason)])

    def _delivery(self, message: _Message) -> Delivery:
        source = f"mqtt:{message.topic}"
        parts = self._topic_parts(message.topic)
        if parts is None:
            return Delivery(message.payload, source,
                            refused=msg("topic does not name a valid site and device ([A-Za-z0-9_-]{{1,64}})"))
        site, device, channel = parts
        return Delivery(message.payload, source, site=site, device=device,
                        kind=STATUS if channel == "status" else EVENTS, retained=message.retained)

    def _topic_parts(self, topic: str) -> tuple[str, str, str] | None:
        rest = topic[len(self.prefix) + 1:].split("/") if topic.startswith(self.prefix + "/") else []
        if len(rest) == 3 and NAME.match(rest[0]) and NAME.match(rest[1]) and rest[2] in ("events", "status"):
            return rest[0], rest[1], rest[2]
        return None

    # -- alert channel (driven by monitor.outbox.OutboxRelay) --------------------------------
    def ready(self) -> bool:
        return self.connected.is_set()

    def send(self, batch: Batch) -> None:
        """Publish each change to ``P/{site}/alerts`` (QoS 1) and wait for the broker's PUBACKs."""
        sent = []
        for change in batch.changes:
            alert = change["alert"]
            info = self.client.publish(f"{self.prefix}/{alert['site']}/alerts", json.dumps(alert), qos=1)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                # too large for the broker will never pass; a full queue or a lost connection may
                raise ChannelError(f"publish failed: {paho.error_string(info.rc)}",
                                   retryable=info.rc != paho.MQTT_ERR_PAYLOAD_SIZE, delivered=self._acked(sent))
            sent.append(info)
        acked = self._acked(sent)
        if acked < len(sent):
            raise ChannelError(f"the broker acknowledged {acked} of {len(sent)} alert changes within "
                               f"{PUBACK_TIMEOUT_S:g}s", retryable=True, delivered=acked)

    @staticmethod
    def _acked(sent: list) -> int:
        """How many leading publishes the broker acknowledged within PUBACK_TIMEOUT_S."""
        deadline = time.monotonic() + PUBACK_TIMEOUT_S
        for count, info in enumerate(sent):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # the connection went away meanwhile
                return count
            if not info.is_published():
                return count
        return len(sent)
