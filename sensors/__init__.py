"""The device side of smartmon: simulated floor devices and log replay.

Everything here talks to the monitor only through its external contract (SPEC §1 events over
MQTT §2 or HTTP §6) and imports nothing from ``monitor`` but ``monitor.languages`` (the standard
library's gettext over the same catalogue, for help in the terminal's language), so it can run on
a tablet, a queue ticket machine or an auditor's laptop with just paho-mqtt and requests installed.

Modules:

* ``sensors.publisher`` — the shared transport: ``MqttPublisher`` and ``HttpSender`` behind one
  ``send(events)`` interface;
* ``sensors.replay``    — ``python -m sensors.replay``: a recorded long-format event log → events;
* ``sensors.widelog``   — ``python -m sensors.widelog``: a wide log (one row per case) → the long
  CSV that replay reads;
* ``sensors.simulate``  — ``python -m sensors.simulate``: a simulated restaurant and business hall.
"""
