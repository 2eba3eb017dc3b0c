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
CASES_PARKED = Counter("smartmon_cases_parked_total",
                       "Cases whose re-evaluation raised on its own and was set aside (loop = scheduler)", ["loop"])
CHANGES_SKIPPED = Counter("smartmon_outbox_skipped_total",
                          "Alert changes a channel refused for good, recorded and skipped by the outbox relay",
                          ["channel"])
NOTIFY_SENT = Counter("smartmon_notifications_sent_total", "Messages (or MQTT changes) delivered", ["receiver"])
NOTIFY_RETRIED = Counter("smartmon_notifications_retried_total",
                         "Delivery attempts that failed in a way a retry can help, to be retried", ["receiver"])
NOTIFY_FAILED = Counter("smartmon_notifications_failed_total",
                        "Messages given up: a permanent error, or retry_for ran out", ["receiver"])
NOTIFY_DELAY = Histogram("smartmon_notification_delay_seconds", "Delivered messages: delivered_at - created_at",
                         ["receiver"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600))
