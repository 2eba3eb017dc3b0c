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
from monitor.notify.engine import Notifier
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
    notifier: Notifier | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        c = self.config
        self.db = Database(c.database.url)
        self.registry = Registry(self.db, c.standards.dir)
        self.directory_watch = DirectoryWatch(self.registry)
        self.fanout = Fanout()
        self.evaluator = CaseEvaluator(self.registry, c.site_timezone, c.engine.clock_skew_tolerance)
        self.scheduler = Scheduler(self.db, self.evaluator, self.fanout, c.scheduler.max_wait,
                                   park_for=c.scheduler.park_for)
        limits = Limits(c.ingest.max_payload_bytes, c.ingest.max_batch, c.ingest.max_future_skew)
        self.ingestor = Ingestor(self.db, self.evaluator, self.fanout, limits, on_due=self.scheduler.wake)
        self.alert_watch = AlertWatch(self.db, self.fanout, self._stop)
        self.registry.after_save = self._judge_future_dated

    def publish(self, changes, due=None) -> None:
        """Alert changes committed outside ingestion and the scheduler (a save, a re-judgement)."""
        self.fanout.publish(changes)
        if due is not None:
            self.scheduler.wake(due)

    def rejudge(self, standard_id, start, end, actor, *, dry_run=False, now=None):
        """SPEC §8 ``rejudge``: the clocks of the window judged by the version in force now (monitor/rejudge.py)."""
        from monitor.rejudge import rejudge

        return rejudge(self.db, self.registry, self.evaluator, standard_id, start, end, actor, dry_run=dry_run,
                       now=now, publish=self.publish)

    def _judge_future_dated(self, session, history, saved_at):
        """A version saved now judges the clocks that start after now: those of events stored already
        but dated a little ahead (device clocks) are judged again, in the saving transaction."""
        cases = self.evaluator.cases_started_after(session, history, saved_at)
        if not cases:
            return None
        changes, due = self.evaluator.reevaluate(session, cases, saved_at, history)

        return lambda: self.publish(changes, due)

    def prepare(self) -> None:
        """Migrate the database and load the standards (importing new or changed files)."""
        self.db.upgrade()
        self.directory_watch.prime()  # before the import: a file changed in between is seen next time
        self.registry.import_directory()

    def start_processing(self, *, client_id: str | None = None, shared_group: str = "") -> None:
        """What a run or worker process does besides serving pages: MQTT ingestion (when enabled),
        the deadline scheduler, notifications and the standards refresh."""
        if self.config.mqtt.enabled:
            self.start_mqtt(client_id=client_id, shared_group=shared_group)
        self.start_scheduler()
        self.start_notify(owner=client_id)
        self.start_standards_refresh()

    def start_mqtt(self, *, client_id: str | None = None, shared_group: str = "") -> MqttBridge:
        """Ingest from the broker and relay alert changes to it (run and worker processes)."""
        c = self.config
        self.broker = ensure_broker(c.mqtt.url, c.mqtt.embedded)
        bridge = MqttBridge()
        client_id = client_id or c.mqtt.client_id
        bridge.init(c.mqtt, self.ingestor, client_id=client_id, shared_group=shared_group,
                    commit_batch=c.ingest.commit_batch, mqtt5=self.broker is None or self.broker.speaks_mqtt5)
        bridge.start()
        self.bridge = bridge
        relay = OutboxRelay(self.db, bridge, self.fanout, owner=client_id)
        relay.start_at_the_end()
        self._spawn("mqtt-alert-relay", relay.run)
        return bridge

    def start_notify(self, owner: str | None = None) -> Notifier | None:
        """Route alert changes to the configured receivers and deliver them (run and worker
        processes); nothing to do without receivers and routes."""
        if not self.config.notify.enabled:
            return None
        notifier = Notifier(self.db, self.config.notify, self.fanout, owner or self.config.mqtt.client_id,
                            self.config.site_timezone)
        notifier.prepare()
        self._spawn("notify-routes", notifier.run_router)
        for name, sender in notifier.senders.items():
            self._spawn(f"notify-{name}", sender.run)
        self.notifier = notifier
        return notifier

    def start_scheduler(self) -> None:
        self._spawn("scheduler", self.scheduler.run)

    def start_standards_refresh(self) -> None:
        interval = self.config.standards.reload_interval.total_seconds()

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
