"""A test subscriber that records everything under the topic prefix."""
from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

import paho.mqtt.client as mqtt


class Subscriber:
    """Collects every message under the prefix, in arrival order."""

    def __init__(self, url: str, topic: str = "smartmon/v1/#") -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.messages: list[tuple[str, Any, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect(host, int(port))
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload), msg.retain))

    def events(self, topic_suffix: str = "/events") -> list[dict]:
        with self._lock:
            found = []
            for topic, payload, _ in self.messages:
                if topic.endswith(topic_suffix):
                    found += payload if isinstance(payload, list) else [payload]
            return found

    def events_by_topic(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = defaultdict(list)
        with self._lock:
            for topic, payload, _ in self.messages:
                if topic.endswith("/events"):
                    found[topic] += payload if isinstance(payload, list) else [payload]
        return found

    def count(self) -> int:
        return len(self.events())

    def statuses(self, topic: str) -> list[str]:
        with self._lock:
            return [p["state"] for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
