"""Prometheus metrics, process-wide (one registry per process, as prometheus_client intends)."""
from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter("smartmon_events_accepted_total", "Events stored (first time seen)")
EVENTS_DUPLICATE = Counter("smartmon_events_duplicate_total", "Events ignored because their id was already stored")
DEAD_LETTERS = Counter("smartmon_dead_letters_total", "Payloads or events rejected into the dead-letter store")
RETAINED_IGNORED = Counter("smartmon_retained_events_ignored_total",
                           "Retained messages on an events topic, ignored (events are not state, SPEC §2)")
ALERTS_OPENED = Counter("smartmon_alerts_opened_total", "Alerts opened", ["kind"])
ALERT_LAG = Histogram("smartmon_alert_lag_seconds", "opened_at - due_at of opened alerts",
                      buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30))
MQTT_CONNECTED = Gauge("smartmon_mqtt_subscribed", "1 while the MQTT subscription is active")
INGEST_BATCH = Histogram("smartmon_ingest_batch_messages", "Messages committed per ingest transaction",
                         buckets=(1, 5, 20, 100, 500, 1000))
