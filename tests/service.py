"""Run the real service (``python -m monitor run``) as a child process for end-to-end tests."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.conftest import ADMIN, ENGINE_STANDARDS, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


class Service:
    def __init__(self, tmp_path: Path, mqtt_url: str, db_url: str | None = None, client_id: str = "e2e",
                 standards: Path = ENGINE_STANDARDS, extra_env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"service-{self.port}.log"
        self.env = {**os.environ, "MONITOR_CONFIG": os.devnull,
                    "MONITOR_DATABASE_URL": db_url or f"sqlite:///{tmp_path}/service.db",
                    "MONITOR_MQTT_URL": mqtt_url, "MONITOR_MQTT_EMBEDDED": "never",
                    "MONITOR_MQTT_CLIENT_ID": client_id, "MONITOR_STANDARDS_DIR": str(standards),
                    "MONITOR_ADMIN_TOKEN": ADMIN, **(extra_env or {})}
        self.process: subprocess.Popen | None = None

    def start(self, wait_healthy: bool = True) -> "Service":
        self.process = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--port", str(self.port)],
                                        cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        if wait_healthy:
            wait_for(self.healthy, timeout=30, message=f"service healthy (log: {self.log})")
        return self

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"service exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {ADMIN}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.terminate()


class SseReader:
    """Collects SSE frames from /alerts/stream in a thread: list of (id, data)."""

    def __init__(self, service: Service, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.response = requests.get(f"{service.url}/api/v1/alerts/stream", headers=headers, stream=True, timeout=30)
        assert self.response.status_code == 200
        self.frames: list[tuple[str, dict]] = []
        self._socket = self.response.raw._fp.fp.raw._sock  # to end a blocked read at once on close()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        frame: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line == "":
                    if frame.get("event") == "alert":
                        self.frames.append((frame["id"], json.loads(frame["data"])))
                    frame = {}
                elif not line.startswith(":") and ":" in line:
                    name, _, value = line.partition(":")
                    frame[name] = value.strip()
        except (requests.RequestException, AttributeError):  # closed by the test: the stream ends
            pass

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.response.close()
