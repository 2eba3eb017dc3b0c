"""Probes of an MQTT broker, and the MQTT URL: used by the supervisor, the runtime and the tests."""
from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 1883


def broker_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port is accepted within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_speaks_mqtt5(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the broker at host:port answers an MQTT v5 CONNECT in v5.

    Sends one minimal v5 CONNECT (clean start, random client id, no credentials) and reads the
    CONNACK. A v5 broker answers in v5 even when it refuses the credential-less login, so only
    "unsupported protocol version" (0x01 in 3.1.1, 0x84 in v5), a closed connection or silence
    count as no. amqtt 0.12 answers no; Mosquitto 2 answers yes.
    """
    code = _connack_code(host, port, 5, timeout)
    return code is not None and code not in (0x01, 0x84)


def broker_answers_mqtt(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when host:port answers an MQTT 3.1.1 CONNECT with a CONNACK (any return code)."""
    return _connack_code(host, port, 4, timeout) is not None


def _connack_code(host: str, port: int, level: int, timeout: float) -> int | None:
    """Send a minimal CONNECT of protocol ``level`` (4 = 3.1.1, 5 = v5); the CONNACK's code or None."""
    client_id = f"smartmon-probe-{os.getpid()}-{time.monotonic_ns() % 10**9}".encode()
    variable = b"\x00\x04MQTT" + bytes([level, 0x02]) + b"\x00\x0a"  # clean session, keep-alive 10 s
    if level >= 5:
        variable += b"\x00"  # no properties
    body = variable + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"\x10" + _varint(len(body)) + body)
            head = _recv_exactly(sock, 4)  # fixed header, ack flags, reason / return code
            if head is None or head[0] != 0x20 or head[1] < 2:
                return None
            if head[3] == 0x00:
                try:
                    sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs no lost client
                except OSError:
                    pass
            return head[3]
    except OSError:
        return None


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://HOST[:PORT]`` (or ``tcp://``) → host and port; other schemes are refused."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(
            f"mqtt.url {url!r}: the embedded broker serves plain mqtt:// only "
            f"(for {parts.scheme}:// run a real broker and set mqtt.embedded: never)"
        )
    if not parts.hostname:
        raise ValueError(f"mqtt.url {url!r} has no host: use mqtt://HOST:PORT")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"mqtt.url {url!r} has a bad port") from None
    return BrokerAddress(parts.hostname, port)



def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
