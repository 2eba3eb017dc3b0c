"""The embedded MQTT broker for a first run or a demo (``mqtt.embedded``), and broker probes.

``probe``: is a broker there, does it speak MQTT v5, the MQTT URL. ``supervisor``: the parent
side (:class:`EmbeddedBroker`, :func:`ensure_broker`). ``child``: the broker process itself
(``python -m monitor.broker``), mosquitto when installed, else amqtt with ``amqtt_patches``.
"""
from monitor.broker.probe import (
    BrokerAddress,
    broker_answers_mqtt,
    broker_listening,
    broker_speaks_mqtt5,
    parse_mqtt_url,
)
from monitor.broker.supervisor import PRODUCTION_HINT, EmbeddedBroker, ensure_broker, find_mosquitto

__all__ = ["BrokerAddress", "EmbeddedBroker", "PRODUCTION_HINT", "broker_answers_mqtt", "broker_listening",
           "broker_speaks_mqtt5", "ensure_broker", "find_mosquitto", "parse_mqtt_url"]
