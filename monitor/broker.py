"""Embedded MQTT broker for a first run or a demo (``mqtt.embedded``), never for production.

amqtt is run in a *child process* (``python -m monitor.broker HOST PORT``): in the same process
as a threaded paho client it stalls (see shared/MQTT-NOTES.md). The child exits on SIGTERM,
and by itself when its parent process goes away, so no orphaned broker keeps the port.

What amqtt 0.12 does and does not do, checked against its source and on loopback:

* It speaks MQTT 3.1.1 only. An MQTT v5 CONNECT is refused (paho v5 never sees a CONNACK), so
  a client that must also work against the embedded broker connects with
  ``protocol=MQTTv311, clean_session=False`` and a stable client id, or first asks
  :func:`broker_speaks_mqtt5` and falls back to 3.1.1.
* Its ``AnonymousAuthPlugin`` marks *every* session anonymous, and amqtt drops anonymous
  sessions on disconnect and queues nothing for them, which would silently break persistent
  sessions. The embedded broker therefore uses ``AcceptAllAuthPlugin``, which lets every
  client in without marking it anonymous.
* It forgets an outgoing QoS 1 message 5 s after sending it, or when the subscriber drops,
  acknowledged or not, so a consumer that crashes before its PUBACK would lose it.
  :func:`patch_amqtt_for_persistent_sessions` (child only) keeps it in flight until
  acknowledged, and amqtt resends it with DUP=1 when the persistent session comes back. It
  also keeps a session that a quickly reconnecting client took over from being marked
  disconnected by the old connection (amqtt would then queue instead of deliver).
* Sessions live only in memory: when the broker process ends, sessions and queued messages are
  gone. Another reason it is for demos only; Mosquitto is configured as the README shows.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("monitor.broker")

MODES = ("auto", "always", "never")
DEFAULT_PORT = 1883
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PARENT_POLL_INTERVAL = 0.5
PRODUCTION_HINT = (
    "the embedded MQTT broker (amqtt, MQTT 3.1.1 only, sessions kept in memory only) is meant "
    "for a first run and demos, not production: run Mosquitto with the configuration in the "
    "README ('Production MQTT broker') and set mqtt.embedded: never"
)


# --------------------------------------------------------------------------- probes


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- parent side


class EmbeddedBroker:
    """An amqtt broker in a child process, listening on host:port until :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 session_expiry: int | None = 3600, startup_timeout: float = STARTUP_TIMEOUT,
                 log_level: str = "WARNING") -> None:
        self.host = host
        self.port = port
        self.session_expiry = session_expiry
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self._owner_pid: int | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "EmbeddedBroker":
        """Start the child and return once host:port accepts connections; RuntimeError if not."""
        with self._lock:
            if self.running:
                return self
            if broker_listening(self.host, self.port):
                raise RuntimeError(
                    f"cannot start the embedded MQTT broker on {self.host}:{self.port}: something "
                    f"already listens there. Use that broker (mqtt.embedded: auto or never) or point "
                    f"mqtt.url at a free port."
                )
            if not _is_loopback(self.host):
                log.warning("the embedded MQTT broker on %s accepts any client without a password: "
                            "bind it to 127.0.0.1, or use Mosquitto", self.host)
            # own session: a Ctrl-C meant for the parent does not kill the broker under it;
            # the parent stops it (stop(), atexit) or the child notices the parent is gone
            self.process = subprocess.Popen(
                self._command(), env=self._child_env(), stdin=subprocess.DEVNULL,
                close_fds=True, start_new_session=True,
            )
            self._owner_pid = os.getpid()
            atexit.register(self.stop)
            try:
                self._wait_until_listening()
            except BaseException:
                self._terminate()
                raise
        log.info("embedded MQTT broker (pid %s) listening at %s", self.process.pid, self.url)
        return self

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and wait for it; safe to call again."""
        with self._lock:
            self._terminate()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"EmbeddedBroker({self.url}, pid={pid}, running={self.running})"

    # internals

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "monitor.broker", self.host, str(self.port),
               "--parent-pid", str(os.getpid()), "--log-level", self.log_level]
        if self.session_expiry is not None:
            cmd += ["--session-expiry", str(int(self.session_expiry))]
        return cmd

    @staticmethod
    def _child_env() -> dict[str, str]:
        env = dict(os.environ)
        # make ``-m monitor.broker`` importable whatever the cwd, installed or not
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _wait_until_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"the embedded MQTT broker exited with code {code} before listening on "
                    f"{self.host}:{self.port} (its error output is above). Check that the address "
                    f"can be bound and that amqtt is installed (pip install amqtt), or run Mosquitto "
                    f"and set mqtt.embedded: never."
                )
            if broker_answers_mqtt(self.host, self.port, timeout=0.5):
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the embedded MQTT broker did not listen on {self.host}:{self.port} within "
                    f"{self.startup_timeout:.0f} s. Try `python -m monitor.broker {self.host} {self.port}` "
                    f"in a terminal to see why, or run Mosquitto and set mqtt.embedded: never."
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _terminate(self) -> None:
        proc, self.process = self.process, None
        try:
            atexit.unregister(self.stop)
        except Exception:  # pragma: no cover - interpreter shutting down
            pass
        if proc is None or os.getpid() != self._owner_pid:
            return  # a forked copy of the owner (e.g. a pre-fork server's worker) leaves it alone
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        log.info("embedded MQTT broker (pid %s) stopped", proc.pid)


def ensure_broker(url: str, mode: str | bool = "auto", **kwargs: object) -> EmbeddedBroker | None:
    """Start an embedded broker for ``url`` as ``mode`` (``mqtt.embedded``) says.

    ``auto``: only when nothing listens at the URL's host:port; ``always``: start one (fails
    when the port is taken); ``never``: do nothing. YAML ``false`` means never, ``true`` auto.
    Returns the running broker (stop it with ``.stop()``; atexit does too), or None.
    Keyword arguments go to :class:`EmbeddedBroker` (e.g. ``session_expiry``).
    """
    if isinstance(mode, bool):  # `embedded: false` / `true` in YAML
        mode = "auto" if mode else "never"
    mode = str(mode).strip().lower()
    if mode not in MODES:
        raise ValueError(f"mqtt.embedded must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "never":
        return None
    address = parse_mqtt_url(url)
    if mode == "auto" and broker_listening(address.host, address.port):
        log.debug("an MQTT broker already listens at %s:%s; not starting the embedded one",
                  address.host, address.port)
        return None
    log.warning("starting an embedded MQTT broker at %s:%s — %s", address.host, address.port,
                PRODUCTION_HINT)
    return EmbeddedBroker(address.host, address.port, **kwargs).start()  # type: ignore[arg-type]


# --------------------------------------------------------------------------- child side


_accept_all_plugin: type | None = None


def _accept_all_auth_plugin() -> type:
    """:class:`AcceptAllAuthPlugin`, built on first use so that importing this module (as the
    web and worker processes do) does not import amqtt; only the broker child needs it."""
    global _accept_all_plugin
    if _accept_all_plugin is None:
        from amqtt.plugins.base import BaseAuthPlugin

        class AcceptAllAuthPlugin(BaseAuthPlugin):
            """Let every client in *without* marking its session anonymous.

            amqtt's AnonymousAuthPlugin sets ``session.is_anonymous``, and amqtt then neither
            keeps the session after a disconnect nor queues QoS 1/2 messages for it, even with
            clean_session=0, which silently breaks persistent sessions.
            """

            @dataclass
            class Config:
                pass

            async def authenticate(self, *, session: object) -> bool:
                return True

        AcceptAllAuthPlugin.__module__ = __name__
        AcceptAllAuthPlugin.__qualname__ = "AcceptAllAuthPlugin"
        _accept_all_plugin = AcceptAllAuthPlugin
    return _accept_all_plugin


def __getattr__(name: str) -> object:  # PEP 562: amqtt loads the plugin by its dotted path
    if name == "AcceptAllAuthPlugin":
        return _accept_all_auth_plugin()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def patch_amqtt_for_persistent_sessions() -> bool:
    """Make amqtt keep an unacknowledged outgoing QoS 1 message until its PUBACK arrives.

    amqtt 0.12 waits 5 s for a subscriber's PUBACK and then, or when the subscriber
    disconnects, forgets the message: a consumer that crashes before acknowledging (smartmon
    acknowledges only after the events are committed) would never get it again, against MQTT
    3.1.1 §4.4. Patched, the message stays in the session's in-flight store until acknowledged,
    and amqtt's own reconnect path (``_retry_deliveries``) resends it with DUP=1 to the returning
    persistent session. Applied in the broker child process only. Returns False (and changes
    nothing) when amqtt's internals are not the expected ones.
    """
    try:
        from amqtt.mqtt.constants import QOS_1
        from amqtt.mqtt.protocol.handler import ProtocolHandler
        from amqtt.session import OUTGOING, OutgoingApplicationMessage
    except ImportError:  # pragma: no cover - other amqtt layout
        return False
    if getattr(ProtocolHandler, "_smartmon_patched", False):
        return True
    original_flow = getattr(ProtocolHandler, "_handle_qos1_message_flow", None)
    original_puback = getattr(ProtocolHandler, "handle_puback", None)
    if original_flow is None or original_puback is None or not hasattr(ProtocolHandler, "_send_packet"):
        log.warning("amqtt internals changed; unacknowledged QoS 1 messages will not be redelivered")
        return False

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
    _patch_amqtt_takeover()
    return True


def _patch_amqtt_takeover() -> None:
    """Keep a session taken over by a reconnecting client in the ``connected`` state.

    When a client reconnects before amqtt noticed its old connection die (a crashed worker
    restarted at once, a network blip), amqtt "takes over" the session, but the old
    connection's loop then marks the shared session ``disconnected``: from then on amqtt queues
    the client's messages instead of sending them, until it reconnects yet again. Patched, the
    old connection's disconnect leaves a session alone once a newer connection owns it.
    """
    try:
        from amqtt.broker import Broker
        from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
    except ImportError:  # pragma: no cover
        return
    original_attach = getattr(BrokerProtocolHandler, "attach", None)
    original_disconnect = getattr(Broker, "_handle_disconnect", None)
    if original_attach is None or original_disconnect is None or not hasattr(Broker, "_stop_handler"):
        log.warning("amqtt internals changed; session take-over is left as amqtt does it")
        return

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


def broker_config(host: str, port: int, session_expiry: int | None = 3600) -> dict[str, object]:
    """The amqtt 0.12 configuration of the embedded broker (plugins-style, no deprecated keys)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    plugin = f"{__name__}.AcceptAllAuthPlugin"  # resolved by the module __getattr__
    return {
        "listeners": {"default": {"type": "tcp", "bind": bind}},
        "session_expiry_interval": session_expiry,
        "plugins": {plugin: {}},
    }


async def serve(host: str, port: int, session_expiry: int | None = 3600,
                parent_pid: int | None = None) -> None:
    """Run the broker until SIGTERM/SIGINT, or until ``parent_pid`` is no longer our parent."""
    from amqtt.broker import Broker

    patch_amqtt_for_persistent_sessions()
    broker = Broker(broker_config(host, port, session_expiry))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    log.info("embedded MQTT broker listening on %s:%s", host, port)
    try:
        await stop.wait()
    finally:
        if watcher:
            watcher.cancel()
        try:
            await asyncio.wait_for(broker.shutdown(), timeout=STOP_TIMEOUT)
        except Exception:  # shutting down anyway; the port closes with the process
            log.debug("broker shutdown did not finish cleanly", exc_info=True)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    # When the parent dies the child is re-parented (to init or a subreaper), so getppid()
    # changes. This also catches SIGKILL of the parent, unlike atexit, and, unlike
    # PR_SET_PDEATHSIG, does not fire when merely the parent's starting *thread* ends.
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_INTERVAL)
    log.warning("parent process %s is gone; stopping the embedded MQTT broker", parent_pid)
    stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.broker",
        description="Run the embedded MQTT broker (amqtt, MQTT 3.1.1) in the foreground. "
                    "For first runs and demos only; use Mosquitto in production.",
    )
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=DEFAULT_PORT)
    parser.add_argument("--session-expiry", type=int, default=3600,
                        help="seconds a disconnected persistent session is kept (default 3600)")
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.log_level.upper() != "DEBUG":
        logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machine is chatty
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        return 0  # the parent died before we got going
    if args.parent_pid is None:
        log.warning("%s", PRODUCTION_HINT)
    try:
        asyncio.run(serve(args.host, args.port, args.session_expiry, args.parent_pid))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        log.error("embedded MQTT broker failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
