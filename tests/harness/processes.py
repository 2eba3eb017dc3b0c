"""Ports, waiting and child processes: what every real-process test and benchmark starts from."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from typing import Any, Callable, NoReturn

from monitor.broker import broker_listening

ADMIN = "test-admin-token"  # the bootstrap admin token every harness service is started with


class HarnessError(AssertionError):
    """Something the harness waited for did not happen, or a process it needs died."""


class MissingTool(HarnessError):
    """A program the suite needs is not installed: the message names the install step."""


def missing_tool(what: str, install: str) -> NoReturn:
    raise MissingTool(f"{what} is missing: {install} (bash .ci/run installs everything the suite needs)")


def mosquitto_binary() -> str:
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    return binary or missing_tool("the mosquitto broker", "apt-get install -y mosquitto")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    return broker_listening("127.0.0.1", port, timeout=0.2)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy, and return that; HarnessError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:g}s waiting for {message or condition}")
        time.sleep(interval)


def stop_process(process: subprocess.Popen | None, timeout: float = 30.0) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; only the process we started, by its id. Its exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode
