"""Patches that make amqtt keep smartmon's QoS 1 guarantee; applied in the broker child only.

They replace private amqtt methods, so they are written for one amqtt version
(:data:`AMQTT_VERSION`, pinned in pyproject.toml). When the installed amqtt is another one, or a
method they replace is missing, :func:`apply_patches` raises :class:`PatchError` and the embedded
broker refuses to start: running unpatched would silently lose unacknowledged messages.
"""
from __future__ import annotations

import asyncio
from importlib import metadata

AMQTT_VERSION = "0.12.1"


class PatchError(RuntimeError):
    """amqtt is not what the patches were written for."""


def _required(owner: type, name: str):  # type: ignore[no-untyped-def]
    try:
        return getattr(owner, name)
    except AttributeError:
        raise PatchError(f"amqtt {metadata.version('amqtt')}: {owner.__name__}.{name} is gone; "
                         f"the embedded broker's patches need amqtt {AMQTT_VERSION}") from None


def apply_patches() -> None:
    """Apply both patches; :class:`PatchError` when amqtt is not the version they were written for."""
    installed = metadata.version("amqtt")
    if installed != AMQTT_VERSION:
        raise PatchError(f"amqtt {installed} is installed; the embedded broker's patches are written for "
                         f"amqtt {AMQTT_VERSION} (pip install amqtt=={AMQTT_VERSION}, as constraints.txt pins)")
    _patch_inflight_until_puback()
    _patch_takeover()


def _patch_inflight_until_puback() -> None:
    """Make amqtt keep an unacknowledged outgoing QoS 1 message until its PUBACK arrives.

    amqtt 0.12 waits 5 s for a subscriber's PUBACK and then, or when the subscriber
    disconnects, forgets the message: a consumer that crashes before acknowledging (smartmon
    acknowledges only after the events are committed) would never get it again, against MQTT
    3.1.1 §4.4. Patched, the message stays in the session's in-flight store until acknowledged,
    and amqtt's own reconnect path (``_retry_deliveries``) resends it with DUP=1 to the returning
    persistent session. Applied in the broker child process only.
    """
    from amqtt.mqtt.constants import QOS_1
    from amqtt.mqtt.protocol.handler import ProtocolHandler
    from amqtt.session import OUTGOING, OutgoingApplicationMessage

    if getattr(ProtocolHandler, "_smartmon_patched", False):
        return
    original_flow = _required(ProtocolHandler, "_handle_qos1_message_flow")
    original_puback = _required(ProtocolHandler, "handle_puback")
    _required(ProtocolHandler, "_send_packet")

    async def qos1_flow(self, app_message):  # type: ignore[no-untyped-def]
        if app_message.direction != OUTGOING or app_message.qos != QOS_1 or app_message.packet_id is None \
                or app_message.puback_packet or self.session is None:
            return await original_flow(self, app_message)
        inflight = self.session.inflight_out
        if app_message.packet_id not in inflight and isinstance(app_message, OutgoingApplicationMessage):
            inflight[app_message.packet_id] = app_message
        retry = app_message.publish_packet is not None
        publish_packet = app_message.build_publish_packet(dup=True) if retry else app_message.build_publish_packet()
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self._puback_waiters[app_message.packet_id] = waiter
        try:
            await self._send_packet(publish_packet)
            app_message.publish_packet = publish_packet
            app_message.puback_packet = await waiter  # no timeout: resent on reconnect (MQTT-4.4.0-1)
            inflight.pop(app_message.packet_id, None)
        finally:
            if self._puback_waiters.get(app_message.packet_id) is waiter:
                self._puback_waiters.pop(app_message.packet_id, None)

    async def handle_puback(self, puback):  # type: ignore[no-untyped-def]
        packet_id = puback.variable_header.packet_id if puback.variable_header is not None else None
        if packet_id is not None and packet_id not in self._puback_waiters and self.session is not None:
            # a late PUBACK (e.g. for a message resent by _retry_deliveries, whose wait timed out)
            if self.session.inflight_out.pop(packet_id, None) is not None:
                return
        await original_puback(self, puback)

    ProtocolHandler._handle_qos1_message_flow = qos1_flow  # type: ignore[method-assign]
    ProtocolHandler.handle_puback = handle_puback  # type: ignore[method-assign]
    ProtocolHandler._smartmon_patched = True  # type: ignore[attr-defined]


def _patch_takeover() -> None:
    """Keep a session taken over by a reconnecting client in the ``connected`` state.

    When a client reconnects before amqtt noticed its old connection die (a crashed worker
    restarted at once, a network blip), amqtt "takes over" the session, but the old
    connection's loop then marks the shared session ``disconnected``: from then on amqtt queues
    the client's messages instead of sending them, until it reconnects yet again. Patched, the
    old connection's disconnect leaves a session alone once a newer connection owns it.
    """
    from amqtt.broker import Broker
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler

    if getattr(Broker, "_smartmon_patched", False):
        return
    original_attach = _required(BrokerProtocolHandler, "attach")
    original_disconnect = _required(Broker, "_handle_disconnect")
    _required(Broker, "_stop_handler")

    def attach(self, session, reader, writer):  # type: ignore[no-untyped-def]
        original_attach(self, session, reader, writer)
        session._smartmon_owner = self
        # amqtt attaches only right after connect() succeeded or after a take-over; in the
        # latter case the old connection may already have marked the session disconnected
        if session.transitions.state == "disconnected":
            session.transitions.connect()

    async def handle_disconnect(self, client_session, handler, disconnect_waiter):  # type: ignore[no-untyped-def]
        owner = getattr(client_session, "_smartmon_owner", handler)
        if owner is not handler:  # a newer connection owns this session now
            await self._stop_handler(handler)
            return
        await original_disconnect(self, client_session, handler, disconnect_waiter)

    BrokerProtocolHandler.attach = attach  # type: ignore[method-assign]
    Broker._handle_disconnect = handle_disconnect  # type: ignore[method-assign]
    Broker._smartmon_patched = True  # type: ignore[attr-defined]
