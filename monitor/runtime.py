"""The services of one process, wired from configuration; Flask apps and workers both use it."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from monitor.alerts import Fanout
from monitor.alertwatch import AlertWatch
from monitor.broker import EmbeddedBroker, ensure_broker
from monitor.config import Config
from monitor.evaluator import CaseEvaluator
from monitor.ingest import Ingestor, Limits
from monitor.mqtt import MqttBridge
from monitor.outbox import OutboxRelay
from monitor.registry import Registry
from monitor.scheduler import Scheduler
from monitor.standards_dir import DirectoryWatch
from monitor.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: Config
    db: Database = field(init=False)
    registry: Registry = field(init=False)
    directory_watch: DirectoryWatch = field(init=False)
    fanout: Fanout = field(init=False)
    evaluator: CaseEvaluator = field(init=False)
    ingestor: Ingestor = field(init=False)
    scheduler: Scheduler = field(init=False)
    alert_watch: AlertWatch = field(init=False)
    bridge: MqttBridge | None = None
    broker: EmbeddedBroker | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        c = self.config
        self.db = Database(c.get("database.url"))
        self.registry = Registry(self.db, c.get("standards.dir"))
        self.directory_watch = DirectoryWatch(self.registry)
        self.fanout = Fanout()
        self.evaluator = CaseEvaluator(self.registry, c.site_timezone, c.duration("engine.clock_skew_tolerance"))
        self.scheduler = Scheduler(self.db, self.evaluator, self.fanout, c.duration("scheduler.max_wait"))
        limits = Limits(c.get("ingest.max_payload_bytes"), c.get("ingest.max_batch"),
                        c.duration("ingest.max_future_skew"))
        self.ingestor = Ingestor(self.db, self.evaluator, self.fanout, limits, on_due=self.scheduler.wake)
        self.alert_watch = AlertWatch(self.db, self.fanout, self._stop)

    def prepare(self) -> None:
        """Migrate the database and load the standards (importing new or changed files)."""
        self.db.upgrade()
        self.directory_watch.prime()  # before the import: a file changed in between is seen next time
        self.registry.import_directory()

    def start_mqtt(self, *, client_id: str | None = None, shared_group: str = "") -> MqttBridge:
        """Ingest from the broker and relay alert changes to it (run and worker processes)."""
        c = self.config
        self.broker = ensure_broker(c.get("mqtt.url"), c.get("mqtt.embedded"))
        bridge = MqttBridge()
        bridge.init(url=c.get("mqtt.url"), prefix=c.get("mqtt.topic_prefix"),
                    client_id=client_id or c.get("mqtt.client_id"),
                    ingestor=self.ingestor,
                    session_expiry=c.get("mqtt.session_expiry"), receive_maximum=c.get("mqtt.receive_maximum"),
                    commit_batch=c.get("ingest.commit_batch"), shared_group=shared_group,
                    username=c.get("mqtt.username"), password=c.get("mqtt.password"),
                    mqtt5=self.broker is None or self.broker.speaks_mqtt5, max_packet_size=c.get("mqtt.max_packet_size"))
        bridge.start()
        self.bridge = bridge
        relay = OutboxRelay(self.db, bridge, self.fanout, owner=client_id or c.get("mqtt.client_id"))
        relay.start_at_the_end()
        self._spawn("mqtt-alert-relay", relay.run)
        return bridge

    def start_scheduler(self) -> None:
        self._spawn("scheduler", self.scheduler.run)

    def start_standards_refresh(self) -> None:
        interval = self.config.duration("standards.reload_interval").total_seconds()

        def loop(stop: threading.Event) -> None:
            while not stop.wait(interval):
                try:
                    if self.directory_watch.check():
                        log.info("standards files changed on disk stored as new versions")
                    if self.registry.refresh():
                        log.info("standards reloaded from the database")
                except Exception:  # noqa: BLE001 - keep serving the standards already loaded
                    log.exception("could not check for new standards versions")

        self._spawn("standards-refresh", loop)

    def _spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Drain MQTT ingestion (commit and ack what was taken), stop loops, close the database."""
        if self.bridge:
            self.bridge.stop()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.broker:
            self.broker.stop()
        self.db.dispose()
