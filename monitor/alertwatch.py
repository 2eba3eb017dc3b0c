"""Wake a web process's SSE streams when any process commits alert changes.

One thread per process, started with the first stream, instead of every stream polling: on
PostgreSQL it LISTENs on ``smartmon_alert_actions`` (a trigger from migration 0003 NOTIFYs at each
commit that adds alert actions), so streams wake at the commit; on SQLite, which has no
notifications, it reads the newest change number every ``SQLITE_POLL_S`` for all streams at once.
Either way it publishes the number to the process's Fanout, where the streams wait; changes made
by this process (acknowledgements) wake them directly.
"""
from __future__ import annotations

import logging
import threading

from monitor.alerts import Fanout
from monitor.store.db import Database
from monitor.store.repository import latest_alert_seq

log = logging.getLogger(__name__)
CHANNEL = "smartmon_alert_actions"
SQLITE_POLL_S = 0.25
#: how long a LISTEN wait lasts before the thread checks whether it should stop
LISTEN_TIMEOUT_S = 1.0


class AlertWatch:
    def __init__(self, db: Database, fanout: Fanout, stop: threading.Event) -> None:
        self.db, self.fanout, self.stop = db, fanout, stop
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alert-watch", daemon=True)
                self._thread.start()

    def _newest(self) -> None:
        with self.db.read_session() as session:
            seq = latest_alert_seq(session)
        if seq > self.fanout.last_seq:
            self.fanout.publish([{"seq": seq}])

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.db.is_sqlite:
                    self._newest()
                    self.stop.wait(SQLITE_POLL_S)
                else:
                    self._listen()
            except Exception:  # noqa: BLE001 - the database may be away; streams keep their timeout
                log.warning("alert watch lost the database; retrying in 1 s", exc_info=True)
                self.stop.wait(1.0)

    def _listen(self) -> None:
        raw = self.db.engine.raw_connection()
        try:
            connection = raw.driver_connection
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            self._newest()  # whatever was committed before LISTEN took effect
            while not self.stop.is_set():
                if any(True for _ in connection.notifies(timeout=LISTEN_TIMEOUT_S, stop_after=1)):
                    self._newest()
        finally:
            raw.invalidate()  # a LISTENing connection must not go back to the pool
