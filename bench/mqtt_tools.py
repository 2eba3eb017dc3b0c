"""Load-generating processes for the benchmarks (run as ``python -m bench.mqtt_tools publish|count``).

The benchmarks publish with ``mosquitto_pub -l -q 1`` (C, so the publisher is never what is
measured); ``publish`` is the paho fallback when it is not installed, reading the same file of one
message per line. ``count`` is the bare reference subscriber: QoS 1, auto-ack after
the callback, counts messages and prints the time of the first and of the last.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as paho

PREFIX = "smartmon/v1"


def _client(client_id: str) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def _connect(client: paho.Client, url: str) -> None:
    host, port = url.removeprefix("mqtt://").split(":")
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set()
    client.connect(host, int(port), keepalive=60)
    client.loop_start()
    if not connected.wait(10):
        sys.exit(f"could not connect to {url}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def write_payloads(path, events: int, batch: int = 1, event_type: str = "job_opened", run: str = "run",
                   at_base: float | None = None, at_spread: float = 0.0) -> int:
    """One message per line. Event ``i`` has id ``{run}-{i}``, its own case ``{run}/{i}``, and
    ``at = at_base + at_spread·i/events`` (default: now). Returns the number of messages."""
    base = time.time() if at_base is None else at_base
    messages = 0
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, events, batch):
            items = [{"id": f"{run}-{i}", "case": f"{run}/{i}", "type": event_type,
                      "at": _iso(base + at_spread * i / events), "staff": "s1", "attrs": {"table": i % 40}}
                     for i in range(start, min(events, start + batch))]
            out.write(json.dumps(items[0] if batch == 1 else items, separators=(",", ":")) + "\n")
            messages += 1
    return messages


def publish(args) -> None:
    """The fallback publisher when mosquitto_pub is not installed: paho, QoS 1, one line per message."""
    with open(args.file, "rb") as source:
        messages = [line.rstrip(b"\n") for line in source]
    client = _client(f"bench-pub-{uuid.uuid4().hex[:8]}")
    acked = 0
    done = threading.Event()

    def on_publish(c, u, mid, rc, p):
        nonlocal acked
        acked += 1
        if acked >= len(messages):
            done.set()

    client.on_publish = on_publish
    _connect(client, args.url)
    for payload in messages:
        client.publish(args.topic, payload, qos=1)
    ok = done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    if not ok:
        sys.exit(f"only {acked}/{len(messages)} messages acknowledged")


def count(args) -> None:
    client = _client(f"bench-count-{uuid.uuid4().hex[:8]}")
    seen = 0
    first = [0.0]
    last = [0.0]
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(c, u, message):
        nonlocal seen
        seen += 1
        if seen == 1:
            first[0] = time.time()
        if seen >= args.messages:
            last[0] = time.time()
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    _connect(client, args.url)
    client.subscribe(f"{PREFIX}/+/+/events", qos=1)
    if not subscribed.wait(10):
        sys.exit("no SUBACK")
    print("ready", flush=True)
    ok = done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"first": first[0], "last": last[0] if ok else time.time(), "messages": seen, "ok": ok}),
          flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt_tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--url", required=True)
    p.add_argument("--file", required=True, help="one message per line")
    p.add_argument("--topic", required=True)
    p.add_argument("--timeout", type=float, default=600)
    c = sub.add_parser("count")
    c.add_argument("--url", required=True)
    c.add_argument("--messages", type=int, required=True)
    c.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    (publish if args.command == "publish" else count)(args)


if __name__ == "__main__":
    main()
