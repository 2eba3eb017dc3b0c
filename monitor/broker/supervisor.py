"""The parent side of the embedded MQTT broker (``mqtt.embedded``): start, wait, stop its child.

The broker runs in a *child process* (``python -m monitor.broker``): amqtt in the same process as
a threaded paho client stalls (see shared/MQTT-NOTES.md). A ``mosquitto`` binary found on PATH is
preferred, run under that child; amqtt (MQTT 3.1.1 only, patched for QoS 1) serves otherwise.
Either way it is for a first run and demos, never for production.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from monitor.broker.child import EXIT_PATCH_FAILED
from monitor.broker.probe import DEFAULT_PORT, broker_answers_mqtt, broker_listening, is_loopback, parse_mqtt_url

log = logging.getLogger("monitor.broker")

MODES = ("auto", "always", "never")
ENGINES = ("auto", "mosquitto", "amqtt")
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PRODUCTION_HINT = (
    "the embedded MQTT broker (sessions kept in memory only) is meant for a first run and demos, "
    "not production: run Mosquitto with the configuration in the README ('Production MQTT broker') "
    "and set mqtt.embedded: never"
)


def find_mosquitto() -> str | None:
    """The mosquitto binary on PATH, or in /usr/sbin where Debian puts it (often not on PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


class EmbeddedBroker:
    """A broker in a child process, listening on host:port until :meth:`stop`.

    ``engine``: ``auto`` (mosquitto when installed, else amqtt), ``mosquitto`` or ``amqtt``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, engine: str = "auto",
                 session_expiry: int | None = 3600, startup_timeout: float = STARTUP_TIMEOUT,
                 log_level: str = "WARNING") -> None:
        if engine not in ENGINES:
            raise ValueError(f"embedded broker engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.mosquitto = find_mosquitto() if engine in ("auto", "mosquitto") else None
        if engine == "mosquitto" and self.mosquitto is None:
            raise RuntimeError("no mosquitto binary on PATH (apt-get install mosquitto), or use engine amqtt")
        self.engine = "mosquitto" if self.mosquitto else "amqtt"
        self.host = host
        self.port = port
        self.session_expiry = session_expiry
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self._owner_pid: int | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"

    @property
    def speaks_mqtt5(self) -> bool:
        return self.engine == "mosquitto"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "EmbeddedBroker":
        """Start the child and return once host:port accepts connections; RuntimeError if not."""
        with self._lock:
            if self.running:
                return self
            if broker_listening(self.host, self.port):
                raise RuntimeError(
                    f"cannot start the embedded MQTT broker on {self.host}:{self.port}: something "
                    f"already listens there. Use that broker (mqtt.embedded: auto or never) or point "
                    f"mqtt.url at a free port."
                )
            if not is_loopback(self.host):
                log.warning("the embedded MQTT broker on %s accepts any client without a password: "
                            "bind it to 127.0.0.1, or use Mosquitto", self.host)
            # own session: a Ctrl-C meant for the parent does not kill the broker under it;
            # the parent stops it (stop(), atexit) or the child notices the parent is gone
            self.process = subprocess.Popen(
                self._command(), env=self._child_env(), stdin=subprocess.DEVNULL,
                close_fds=True, start_new_session=True,
            )
            self._owner_pid = os.getpid()
            atexit.register(self.stop)
            try:
                self._wait_until_listening()
            except BaseException:
                self._terminate()
                raise
        log.info("embedded MQTT broker (%s, pid %s) listening at %s", self.engine, self.process.pid, self.url)
        return self

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and wait for it; safe to call again."""
        with self._lock:
            self._terminate()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"EmbeddedBroker({self.url}, {self.engine}, pid={pid}, running={self.running})"

    # internals

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "monitor.broker", self.host, str(self.port),
               "--engine", self.engine, "--parent-pid", str(os.getpid()), "--log-level", self.log_level]
        if self.mosquitto:
            cmd += ["--mosquitto", self.mosquitto]
        if self.session_expiry is not None:
            cmd += ["--session-expiry", str(int(self.session_expiry))]
        return cmd

    @staticmethod
    def _child_env() -> dict[str, str]:
        env = dict(os.environ)
        # make ``-m monitor.broker`` importable whatever the cwd, installed or not
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _wait_until_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        while True:
            code = self.process.poll()
            if code == EXIT_PATCH_FAILED:
                raise RuntimeError(
                    "the embedded MQTT broker refused to start: its amqtt patches do not apply to the "
                    "installed amqtt (the reason is above), and unpatched amqtt would lose unacknowledged "
                    "QoS 1 messages. Install the pinned amqtt (pip install -c constraints.txt ...), install "
                    "mosquitto (preferred when on PATH), or run a broker and set mqtt.embedded: never."
                )
            if code is not None:
                raise RuntimeError(
                    f"the embedded MQTT broker exited with code {code} before listening on "
                    f"{self.host}:{self.port} (its error output is above). Check that the address "
                    f"can be bound, or run Mosquitto and set mqtt.embedded: never."
                )
            if broker_answers_mqtt(self.host, self.port, timeout=0.5):
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the embedded MQTT broker did not listen on {self.host}:{self.port} within "
                    f"{self.startup_timeout:.0f} s. Try `python -m monitor.broker {self.host} {self.port}` "
                    f"in a terminal to see why, or run Mosquitto and set mqtt.embedded: never."
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _terminate(self) -> None:
        proc, self.process = self.process, None
        try:
            atexit.unregister(self.stop)
        except Exception:  # pragma: no cover - interpreter shutting down
            pass
        if proc is None or os.getpid() != self._owner_pid:
            return  # a forked copy of the owner (e.g. a pre-fork server's worker) leaves it alone
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        log.info("embedded MQTT broker (pid %s) stopped", proc.pid)


def ensure_broker(url: str, mode: str | bool = "auto", **kwargs: object) -> EmbeddedBroker | None:
    """Start an embedded broker for ``url`` as ``mode`` (``mqtt.embedded``) says.

    ``auto``: only when nothing listens at the URL's host:port; ``always``: start one (fails
    when the port is taken); ``never``: do nothing. YAML ``false`` means never, ``true`` auto.
    Returns the running broker (stop it with ``.stop()``; atexit does too), or None.
    Keyword arguments go to :class:`EmbeddedBroker` (e.g. ``session_expiry``).
    """
    if isinstance(mode, bool):  # `embedded: false` / `true` in YAML
        mode = "auto" if mode else "never"
    mode = str(mode).strip().lower()
    if mode not in MODES:
        raise ValueError(f"mqtt.embedded must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "never":
        return None
    address = parse_mqtt_url(url)
    if mode == "auto" and broker_listening(address.host, address.port):
        log.debug("an MQTT broker already listens at %s:%s; not starting the embedded one",
                  address.host, address.port)
        return None
    broker = EmbeddedBroker(address.host, address.port, **kwargs)  # type: ignore[arg-type]
    log.warning("starting an embedded MQTT broker (%s) at %s:%s — %s", broker.engine, address.host,
                address.port, PRODUCTION_HINT)
    return broker.start()
