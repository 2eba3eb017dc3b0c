"""The real service as child processes (``python -m monitor run`` / ``worker``), configured only
through MONITOR_* variables, a fresh database for it, waiting on its tables, and a reader of its
alert stream.

What it says while it waits goes to the ``tests.harness`` logger: pytest shows it with a failing
test, ``python -m bench`` prints it as progress lines.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import requests

from tests.harness.database import Db, fresh_database_url
from tests.harness.processes import ADMIN, HarnessError, free_port, stop_process, wait_for

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
ENGINE_STANDARDS = ROOT / "tests" / "engine_standards"


def service_env(db_url: str, mqtt_url: str, standards: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a service process: the caller's, less every MONITOR_* it had, plus ours."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")},
            "MONITOR_CONFIG": os.devnull, "MONITOR_DATABASE_URL": db_url, "MONITOR_MQTT_URL": mqtt_url,
            "MONITOR_MQTT_EMBEDDED": "never", "MONITOR_STANDARDS_DIR": str(standards), "MONITOR_ADMIN_TOKEN": ADMIN,
            **(extra or {})}


class Service:
    """``python -m monitor run`` on a free port; its output goes to ``log`` in ``workdir``."""

    def __init__(self, workdir: Path, mqtt_url: str, db_url: str | None = None, *, name: str = "service",
                 client_id: str | None = None, standards: Path = ENGINE_STANDARDS,
                 extra_env: dict[str, str] | None = None, verbose: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.log = workdir / f"{name}-{self.port}.log"
        if standards.resolve().is_relative_to(ROOT):
            # A PUT writes its file into the standards directory (SPEC §3): never into the checkout.
            standards = Path(shutil.copytree(standards, workdir / f"{name}-standards", dirs_exist_ok=True))
        self.standards = standards
        self.env = service_env(db_url or f"sqlite:///{workdir}/{name}.db", mqtt_url, standards,
                               {"MONITOR_MQTT_CLIENT_ID": client_id or f"{name}-{self.port}", **(extra_env or {})})
        self.command = [sys.executable, "-m", "monitor", *(["-v"] if verbose else []), "run", "--port", str(self.port)]
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.ready_s: float | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, wait_healthy: bool = True, timeout: float = 30.0) -> "Service":
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        if wait_healthy:
            self.wait_ready(timeout)
        return self

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise HarnessError(f"service {self.name} exited with {self.process.returncode}:\n{self.tail()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds from process start to the first ``/healthz`` 200."""
        wait_for(self.healthy, timeout, message=f"service {self.name} healthy (log: {self.log})")
        self.ready_s = time.monotonic() - self.started_at
        return self.ready_s

    def api(self, method: str, path: str, timeout: float = 10, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {ADMIN}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=timeout, **kwargs)

    def metric(self, name: str) -> float | None:
        """One sample of ``/metrics`` (e.g. ``smartmon_ingest_batch_messages_sum``), None if absent."""
        try:
            lines = requests.get(f"{self.url}/metrics", timeout=5).text.splitlines()
        except requests.RequestException:
            return None
        return next((float(line.rsplit(" ", 1)[1]) for line in lines
                     if line.startswith(name + " ") or line.startswith(name + "{")), None)

    def rss(self) -> int:
        import psutil

        return psutil.Process(self.pid).memory_info().rss

    def log_count(self, needle: str) -> int:
        """How many lines of the service's log contain ``needle`` (e.g. reconnects)."""
        return sum(needle in line for line in self.tail(None).splitlines())

    def tail(self, chars: int | None = 3000) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text if chars is None else text[-chars:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def fresh_service(workdir: Path, mqtt_url: str, kind: str, name: str, *, standards: Path, postgres_url: str,
                  note: str = "", extra_env: dict[str, str] | None = None,
                  timeout: float = 120.0) -> Iterator[tuple[Service, Db]]:
    """A fresh ``kind`` database (:func:`fresh_database_url`) and the service on it, ready; both stopped
    and closed afterwards. ``service.ready_s`` is the start-up time; ``note`` is added to the line
    that says it."""
    url = fresh_database_url(kind, workdir, name, postgres_url)
    service = Service(workdir, mqtt_url, url, name=name, standards=standards, extra_env=extra_env)
    db = Db(url)
    try:
        service.start(wait_healthy=False).wait_ready(timeout=timeout)
        log.info("service (%s) ready in %.1fs%s", kind, service.ready_s, note)
        yield service, db
    finally:
        service.stop()
        db.dispose()


def wait_count(db: Db, sql: str, target: int, timeout: float, what: str, service: Service | None = None,
               interval: float = 0.1, report_every: float = 5.0) -> tuple[float, int]:
    """Poll ``sql`` (a count) until it reaches ``target``; return (epoch time reached, count).

    Says how far it got every ``report_every`` seconds; on timeout returns the count reached so far
    with the time of the timeout (a benchmark reports the partial figure). HarnessError when
    ``service`` exits meanwhile."""
    started = time.monotonic()
    last_report = started
    count = 0
    while True:
        count = db.scalar(sql) or 0
        now = time.time()
        if count >= target:
            return now, count
        if service is not None and service.process.poll() is not None:
            raise HarnessError(f"service exited with {service.process.returncode}:\n{service.tail()}")
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            log.info("%s: TIMEOUT after %.0fs at %s/%s", what, elapsed, f"{count:,}", f"{target:,}")
            return now, count
        if time.monotonic() - last_report >= report_every:
            last_report = time.monotonic()
            log.info("%s: %s/%s after %.0fs", what, f"{count:,}", f"{target:,}", elapsed)
        time.sleep(interval)


class Workers:
    """``count`` × ``python -m monitor worker --id N`` on one shared subscription (no HTTP): the
    production way to spread ingestion over processes (README, Running it in production)."""

    def __init__(self, workdir: Path, db_url: str, mqtt_url: str, standards: Path, name: str, count: int) -> None:
        self.env = service_env(db_url, mqtt_url, standards, {"MONITOR_MQTT_SHARED_GROUP": f"bench-{name}"})
        self.logs = [workdir / f"worker-{name}-{i}.log" for i in range(1, count + 1)]
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 60.0) -> "Workers":
        """One at a time, each after the one before has subscribed (the first applies the migrations)."""
        for number, log in enumerate(self.logs, start=1):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "monitor", "worker", "--id", str(number)], cwd=ROOT, env=self.env,
                stdout=log.open("ab"), stderr=subprocess.STDOUT))
            wait_for(lambda: self._subscribed(number, log), timeout, interval=0.05,
                     message=f"worker {number} subscribed (log: {log})")
        return self

    def _subscribed(self, number: int, log: Path) -> bool:
        process = self.processes[number - 1]
        if process.poll() is not None:
            raise HarnessError(f"worker {number} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        text = log.read_text(errors="replace")
        return f"worker {number} running" in text and "subscribed to" in text

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)


class SseFrame(NamedTuple):
    id: str
    data: dict
    received_at: float  # epoch seconds when the frame's bytes arrived


class SseReader:
    """Collects ``/alerts/stream`` frames in a thread.

    A plain socket speaking HTTP/1.0 (no chunked encoding), read with ``recv`` so a frame is
    timed when it arrives, not when a read buffer fills."""

    def __init__(self, service: Service, last_event_id: str | None = None) -> None:
        self.frames: list[SseFrame] = []
        self.sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        self.sock.sendall(f"GET /api/v1/alerts/stream HTTP/1.0\r\nHost: 127.0.0.1\r\n{resume}"
                          f"Authorization: Bearer {ADMIN}\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise HarnessError(f"the alert stream closed before its headers: {head!r}")
            head += chunk
        head, self._rest = head.split(b"\r\n\r\n", 1)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise HarnessError(f"the alert stream answered {head.splitlines()[0]!r}")
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = self._rest
        try:
            while True:
                *frames, buffer = buffer.split(b"\n\n")
                now = time.time()
                for frame in frames:
                    fields = dict(line.split(b":", 1) for line in frame.split(b"\n")
                                  if b":" in line and not line.startswith(b":"))  # ":" opens a comment
                    if fields.get(b"event", b"").strip() == b"alert":
                        self.frames.append(SseFrame(fields[b"id"].strip().decode(), json.loads(fields[b"data"]), now))
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return
                buffer += chunk
        except (OSError, ValueError):  # closed by close(): the stream ends
            return

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
