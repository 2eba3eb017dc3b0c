"""The embedded broker (monitor.broker): real child processes (mosquitto and patched amqtt), real paho clients."""
from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from monitor.broker import (
    EmbeddedBroker,
    broker_answers_mqtt,
    broker_listening,
    broker_speaks_mqtt5,
    ensure_broker,
    parse_mqtt_url,
)
from tests.harness.processes import free_port, mosquitto_binary, wait_for

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
WAIT = 10.0  # seconds any single expected thing may take
TOPIC = "smartmon/v1/bj-01/tablet-1/events"
FILTER = "smartmon/v1/+/+/events"


class Consumer:
    """A paho 2 client (callback API v2) that records what it gets; every wait has a timeout."""

    def __init__(self, port: int, client_id: str, *, manual_ack: bool = False) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False, manual_ack=manual_ack)
        self.port = port
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present: bool | None = None
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = lambda client, userdata, message: self.messages.put(message)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self.session_present = flags.session_present
            self.connected.set()

    def connect(self) -> "Consumer":
        self.client.connect(HOST, self.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(WAIT), "no CONNACK from the broker"
        return self

    def subscribe(self, topic: str = FILTER) -> None:
        self.subscribed.clear()
        result, _ = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        assert self.subscribed.wait(WAIT), "no SUBACK from the broker"

    def next_message(self) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no message within {WAIT} s") from None

    def disconnect(self) -> None:
        self.client.disconnect()
        assert self.disconnected.wait(WAIT)
        self.client.loop_stop()

    def crash(self) -> None:
        """Vanish without DISCONNECT and without acknowledging, as a killed worker does."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def publish(port: int, payload: bytes, topic: str = TOPIC) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    client.connect(HOST, port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=WAIT)
        assert info.is_published(), "the broker did not PUBACK the publish"
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="module", params=["amqtt", "mosquitto"])
def embedded(request):
    broker = EmbeddedBroker(HOST, free_port(), engine=request.param).start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto():
    port = free_port()
    proc = subprocess.Popen([mosquitto_binary(), "-p", str(port)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: proc.poll() is not None or broker_listening(HOST, port), WAIT, message="mosquitto")
        assert proc.poll() is None, "mosquitto exited at start"
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_qos1_subscribe_and_receive(embedded):
    consumer = Consumer(embedded.port, f"worker-{uuid.uuid4().hex[:8]}").connect()
    try:
        consumer.subscribe()
        publish(embedded.port, b'{"id": "e1"}')
        message = consumer.next_message()
        assert message.topic == TOPIC
        assert message.payload == b'{"id": "e1"}'
        assert message.qos == 1
    finally:
        consumer.disconnect()


def test_persistent_session_queues_while_offline_and_redelivers_unacknowledged(embedded):
    client_id = f"worker-{uuid.uuid4().hex[:8]}"
    first = Consumer(embedded.port, client_id, manual_ack=True).connect()
    assert first.session_present is False
    first.subscribe()
    first.disconnect()

    publish(embedded.port, b"while-offline")  # the broker must queue it for the session

    second = Consumer(embedded.port, client_id, manual_ack=True).connect()
    assert second.session_present is True
    message = second.next_message()
    assert message.payload == b"while-offline"
    second.crash()  # received, never acknowledged (the commit never happened)

    third = Consumer(embedded.port, client_id, manual_ack=True).connect()
    try:
        assert third.session_present is True
        again = third.next_message()
        assert again.payload == b"while-offline"
        assert again.dup, "a redelivery carries DUP=1"
        third.client.ack(again.mid, again.qos)
        # once acknowledged it is not sent again: the next message is the next one published
        publish(embedded.port, b"after-ack")
        assert third.next_message().payload == b"after-ack"
    finally:
        third.disconnect()


def test_the_embedded_broker_says_truly_whether_it_speaks_mqtt5(embedded):
    assert broker_answers_mqtt(HOST, embedded.port)
    assert broker_speaks_mqtt5(HOST, embedded.port) is embedded.speaks_mqtt5
    assert embedded.speaks_mqtt5 is (embedded.engine == "mosquitto")


def test_auto_prefers_a_mosquitto_found_on_path():
    mosquitto_binary()  # the suite needs it installed anyway
    broker = EmbeddedBroker(HOST, free_port())
    assert broker.engine == "mosquitto" and broker.speaks_mqtt5
    assert EmbeddedBroker(HOST, free_port(), engine="amqtt").engine == "amqtt"


@pytest.mark.parametrize("breakage", [
    "import monitor.broker.amqtt_patches as patches; patches.AMQTT_VERSION = '0.0.1'",
    "from amqtt.mqtt.protocol.handler import ProtocolHandler; del ProtocolHandler.handle_puback",
], ids=["another amqtt version", "a patched method gone"])
def test_amqtt_refuses_to_start_when_a_patch_does_not_apply(breakage):
    port = free_port()
    script = f"import sys\n{breakage}\nfrom monitor.broker.child import main\n" \
             f"sys.exit(main([{HOST!r}, '{port}', '--engine', 'amqtt']))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT * 3,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 3, done.stderr
    assert "refusing to start the embedded MQTT broker" in done.stderr and "amqtt 0.12.1" in done.stderr
    assert not broker_listening(HOST, port)


def test_mqtt5_probe_says_yes_for_mosquitto(mosquitto):
    assert broker_speaks_mqtt5(HOST, mosquitto) is True


def test_ensure_broker_auto_uses_a_broker_that_already_listens(mosquitto):
    assert ensure_broker(f"mqtt://{HOST}:{mosquitto}", "auto") is None


def test_ensure_broker_always_refuses_a_taken_port(mosquitto):
    with pytest.raises(RuntimeError, match="already listens"):
        ensure_broker(f"mqtt://{HOST}:{mosquitto}", "always")


def test_ensure_broker_auto_starts_one_and_stop_frees_the_port(caplog):
    port = free_port()
    assert not broker_listening(HOST, port)
    with caplog.at_level("WARNING", logger="monitor.broker"):
        broker = ensure_broker(f"mqtt://{HOST}:{port}", "auto")
    try:
        assert isinstance(broker, EmbeddedBroker) and broker.running
        assert broker_answers_mqtt(HOST, port)
        assert any("not production" in r.getMessage() and "Mosquitto" in r.getMessage()
                   for r in caplog.records)
    finally:
        broker.stop()
    assert not broker.running
    assert not broker_listening(HOST, port)
    broker.stop()  # idempotent
    # the port is really free again: a new broker can take it
    with EmbeddedBroker(HOST, port) as again:
        assert broker_answers_mqtt(HOST, port)
    assert not again.running


def test_ensure_broker_never_and_bad_input():
    assert ensure_broker(f"mqtt://{HOST}:{free_port()}", "never") is None
    assert ensure_broker(f"mqtt://{HOST}:{free_port()}", False) is None  # YAML `off`
    with pytest.raises(ValueError, match="mqtt.embedded"):
        ensure_broker(f"mqtt://{HOST}:{free_port()}", "sometimes")
    with pytest.raises(ValueError, match="plain mqtt://"):
        ensure_broker(f"mqtts://{HOST}:{free_port()}", "auto")


def test_parse_mqtt_url():
    address = parse_mqtt_url("mqtt://127.0.0.1:1883")
    assert (address.host, address.port) == (HOST, 1883)
    address = parse_mqtt_url("mqtt://broker.local")
    assert (address.host, address.port) == ("broker.local", 1883)
    address = parse_mqtt_url("tcp://[::1]:1884")
    assert (address.host, address.port) == ("::1", 1884)


@pytest.mark.parametrize("engine", ["amqtt", "mosquitto"])
def test_broker_dies_with_its_parent(tmp_path, engine):
    port = free_port()
    repo = Path(__file__).resolve().parent.parent
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(repo)!r})
        from monitor.broker import EmbeddedBroker
        broker = EmbeddedBroker({HOST!r}, {port}, engine={engine!r}).start()
        print(broker.process.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()  # printed once the broker listens
        assert line.strip().isdigit(), "the parent did not start its broker"
        assert broker_listening(HOST, port)
        parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup: the child must notice alone
        parent.wait(timeout=WAIT)
        wait_for(lambda: not broker_listening(HOST, port), WAIT, message="the orphaned broker to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


@pytest.mark.parametrize("engine", ["amqtt", "mosquitto"])
def test_startup_failure_is_a_clear_error(engine):
    # a socket that holds the port without listening: nothing answers, yet the child cannot bind
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        port = holder.getsockname()[1]
        broker = EmbeddedBroker(HOST, port, engine=engine, startup_timeout=WAIT)
        with pytest.raises(RuntimeError, match="exited with code .*mqtt.embedded: never"):
            broker.start()
    assert not broker.running
