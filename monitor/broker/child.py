"""The broker child process, ``python -m monitor.broker``: amqtt in-process or a mosquitto under it.

Either way this process is what the parent starts and stops. It exits on SIGTERM, and by itself
when its parent goes away (so no orphaned broker keeps the port), taking mosquitto with it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from monitor.languages import _l, use_terminal_language

log = logging.getLogger("monitor.broker")

ENGINES = ("amqtt", "mosquitto")
PARENT_POLL_INTERVAL = 0.5
STOP_TIMEOUT = 5.0
EXIT_PATCH_FAILED = 3


def mosquitto_config(host: str, port: int) -> str:
    """A demo Mosquitto: anonymous on one listener, sessions in memory, a queue large enough for a
    worker that restarts (the default 1000 drops the 1001st message silently)."""
    return (f"listener {port} {host}\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\nmax_inflight_messages 100\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n")


async def _until_stopped(parent_pid: int | None, stop: asyncio.Event, proc: subprocess.Popen | None) -> None:
    # When the parent dies the child is re-parented (to init or a subreaper), so getppid()
    # changes. This also catches SIGKILL of the parent, unlike atexit, and, unlike
    # PR_SET_PDEATHSIG, does not fire when merely the parent's starting *thread* ends.
    while not stop.is_set():
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("parent process %s is gone; stopping the embedded MQTT broker", parent_pid)
            stop.set()
        elif proc is not None and proc.poll() is not None:
            log.error("mosquitto exited with code %s", proc.returncode)
            stop.set()
        else:
            try:
                await asyncio.wait_for(stop.wait(), timeout=PARENT_POLL_INTERVAL)
            except asyncio.TimeoutError:
                pass


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.engine == "amqtt":
        from monitor.broker.amqtt_child import serve_amqtt

        watcher = asyncio.create_task(_until_stopped(args.parent_pid, stop, None))
        await serve_amqtt(args.host, args.port, args.session_expiry, stop)
        await watcher
        return 0
    with tempfile.TemporaryDirectory(prefix="smartmon-mosquitto-") as directory:
        conf = Path(directory) / "mosquitto.conf"
        conf.write_text(mosquitto_config(args.host, args.port))
        proc = subprocess.Popen([args.mosquitto, "-c", str(conf)], stdin=subprocess.DEVNULL)
        log.info("embedded MQTT broker (mosquitto, pid %s) on %s:%s", proc.pid, args.host, args.port)
        try:
            await _until_stopped(args.parent_pid, stop, proc)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        return 0 if proc.returncode in (0, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    use_terminal_language()
    parser = argparse.ArgumentParser(
        prog="python -m monitor.broker",
        description=_l("Run the embedded MQTT broker in the foreground (mosquitto when given, else "
                       "amqtt, MQTT 3.1.1). For first runs and demos only; use Mosquitto configured "
                       "as the README shows in production."))
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=1883)
    parser.add_argument("--engine", choices=ENGINES, default="amqtt")
    parser.add_argument("--mosquitto", default="mosquitto", help=_l("the mosquitto binary (engine mosquitto)"))
    parser.add_argument("--session-expiry", type=int, default=3600,
                        help=_l("seconds amqtt keeps a disconnected persistent session (default 3600)"))
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.log_level.upper() != "DEBUG":
        logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machine is chatty
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        return 0  # the parent died before we got going
    from monitor.broker.amqtt_patches import PatchError

    try:
        return asyncio.run(_serve(args))
    except PatchError as exc:
        log.error("refusing to start the embedded MQTT broker: %s", exc)
        return EXIT_PATCH_FAILED
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        log.error("embedded MQTT broker failed: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
