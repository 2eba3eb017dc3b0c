"""amqtt inside the broker child process: its configuration and the serving coroutine.

What amqtt 0.12 does and does not do, checked against its source and on loopback:

* It speaks MQTT 3.1.1 only. An MQTT v5 CONNECT is refused (paho v5 never sees a CONNACK), so
  a client that must also work against it connects with ``protocol=MQTTv311,
  clean_session=False`` and a stable client id, or first asks ``broker_speaks_mqtt5``.
* Its ``AnonymousAuthPlugin`` marks *every* session anonymous, and amqtt drops anonymous
  sessions on disconnect and queues nothing for them, which would silently break persistent
  sessions: :class:`AcceptAllAuthPlugin` lets every client in without marking it anonymous.
* It forgets an outgoing QoS 1 message 5 s after sending it, or when the subscriber drops,
  acknowledged or not; :mod:`monitor.broker.amqtt_patches` keeps it until acknowledged.
* Sessions live only in memory: when the broker process ends, sessions and queued messages are
  gone.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

from monitor.broker.amqtt_patches import apply_patches

log = logging.getLogger("monitor.broker")
SHUTDOWN_TIMEOUT = 5.0


class AcceptAllAuthPlugin(BaseAuthPlugin):
    """Let every client in *without* marking its session anonymous (see the module docstring)."""

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: object) -> bool:
        return True


def broker_config(host: str, port: int, session_expiry: int | None = 3600) -> dict[str, object]:
    """The amqtt 0.12 configuration of the embedded broker (plugins-style, no deprecated keys)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "listeners": {"default": {"type": "tcp", "bind": bind}},
        "session_expiry_interval": session_expiry,
        "plugins": {f"{__name__}.AcceptAllAuthPlugin": {}},
    }


async def serve_amqtt(host: str, port: int, session_expiry: int | None, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set. Raises :class:`~monitor.broker.amqtt_patches.PatchError`
    before listening when the patches do not apply: unpatched amqtt would lose messages."""
    apply_patches()
    broker = Broker(broker_config(host, port, session_expiry))
    await broker.start()
    log.info("embedded MQTT broker (amqtt) listening on %s:%s", host, port)
    try:
        await stop.wait()
    finally:
        try:
            await asyncio.wait_for(broker.shutdown(), timeout=SHUTDOWN_TIMEOUT)
        except Exception:  # shutting down anyway; the port closes with the process
            log.debug("broker shutdown did not finish cleanly", exc_info=True)
