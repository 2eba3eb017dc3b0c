"""A throwaway Mosquitto on a free loopback port, with the queue and in-flight limits raised."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.harness.processes import free_port, mosquitto_binary, port_open, stop_process, wait_for


class Mosquitto:
    """A broker that may be stopped and started again on the same port.

    ``persistence``: keep sessions and queued messages across a restart, saved after every
    ``autosave_every`` changes, or (None) only on a clean stop — saving after every change is a
    full rewrite of the store per message once tens of MiB are queued.
    """

    def __init__(self, directory: Path, *, persistence: bool = True, autosave_every: int | None = 1,
                 inflight: int = 100) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = directory / f"mosquitto-{self.port}.conf"
        stored = f"persistence {'true' if persistence else 'false'}\npersistence_location {directory}/\n"
        if persistence and autosave_every is not None:
            stored += f"autosave_interval {autosave_every}\nautosave_on_changes true\n"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{stored}"
            f"max_queued_messages 10000000\nmax_queued_bytes 0\nmax_inflight_messages {inflight}\n"
            "max_keepalive 120\nlog_type error\n")
        self.process: subprocess.Popen | None = None

    @classmethod
    def in_own_directory(cls, **options: object) -> "Mosquitto":
        """In a directory the broker can write its store to: started as root, Mosquitto drops to
        the ``mosquitto`` user, which cannot enter pytest's ``tmp_path`` (0700, root's), and would
        then keep no persistence at all. :meth:`destroy` removes the directory."""
        directory = Path(tempfile.mkdtemp(prefix="smartmon-mosquitto-"))
        if os.geteuid() == 0:
            try:
                shutil.chown(directory, "mosquitto", "mosquitto")
            except LookupError:  # no such user: Mosquitto then keeps running as root
                pass
        return cls(directory, **options)  # type: ignore[arg-type]

    @property
    def store(self) -> Path:
        return self.directory / "mosquitto.db"

    def start(self) -> "Mosquitto":
        self.process = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), message=f"mosquitto on port {self.port}")
        return self

    def stop(self) -> None:
        stop_process(self.process, 10)
        wait_for(lambda: not port_open(self.port), message="mosquitto to stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
