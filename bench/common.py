"""What the benchmarks add to the shared harness (``tests/harness``: brokers, databases, the
service process, waiting on its tables, the SSE reader): results and their table, the harness's
pieces with the benchmarks' settings, workloads (standards, payload files, publisher and counter
processes, bulk loads) and py-spy profiles.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Iterable, Sequence

from tests.harness.database import Db, fresh_database_url
from tests.harness.mosquitto import Mosquitto
from tests.harness.processes import HarnessError, free_port, stop_process
from tests.harness.service import ENGINE_STANDARDS, Service, fresh_service

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "smartmon/v1"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
_T0 = time.monotonic()


class BenchError(HarnessError):
    """A benchmark could not run; the runner reports it (and any HarnessError: a process died, a
    wait timed out) and goes on."""


def psycopg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as plain psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


# -- the harness with the benchmarks' settings ----------------------------------------------------
def bench_broker(ctx: "Context") -> Mosquitto:
    """The benchmarks' Mosquitto: no persistence to slow it down, a wide in-flight window."""
    return Mosquitto(ctx.workdir, persistence=False, inflight=1000)


def bench_database(ctx: "Context", kind: str, name: str) -> str:
    """A fresh, empty database of ``kind`` in the run's work directory, or BENCH_PG_URL emptied."""
    return fresh_database_url(kind, ctx.workdir, name, PG_URL)


def bench_service(ctx: "Context", broker: Mosquitto, kind: str, name: str, standards: Path | None = None,
                  note: str = "", extra_env: dict[str, str] | None = None) -> ContextManager[tuple[Service, Db]]:
    """A fresh ``kind`` database and the service on it with the benchmarks' standards, ready
    (``tests.harness.service.fresh_service``)."""
    return fresh_service(ctx.workdir, broker.url, kind, name, standards=standards or standards_dir(ctx.workdir),
                         postgres_url=PG_URL, note=note, extra_env=extra_env)


# -- output ---------------------------------------------------------------------------------------
def progress(message: str) -> None:
    print(f"  [{time.monotonic() - _T0:7.1f}s] {message}", flush=True)


class _ProgressLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        progress(record.getMessage())


def print_harness_progress() -> None:
    """What the harness says while it waits (the ``tests.harness`` logger) as progress lines."""
    harness = logging.getLogger("tests.harness")
    harness.addHandler(_ProgressLines())
    harness.setLevel(logging.INFO)
    harness.propagate = False


@dataclass
class Result:
    """One line of a benchmark's table."""

    figure: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_what: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.reference or self.reference < 0:
            return None
        return self.value / self.reference

    def to_json(self) -> dict[str, Any]:
        return {"figure": self.figure, "value": self.value, "unit": self.unit, "reference": self.reference,
                "reference_what": self.reference_what, "ratio": self.ratio, "target": self.target,
                "met": self.met, "note": self.note}


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def print_table(title: str, results: Sequence[Result]) -> None:
    rows = [("figure", "value", "reference", "ratio", "target", "met?")]
    for r in results:
        ref = fmt(r.reference, r.unit) + (f" ({r.reference_what})" if r.reference_what else "")
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        rows.append((r.figure, fmt(r.value, r.unit), ref if r.reference is not None else "-",
                     f"{r.ratio:.2f}" if r.ratio is not None else "-", r.target or "-", met))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    print(f"\n== {title} ==")
    for n, row in enumerate(rows):
        print("  " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    for r in results:
        if r.note:
            print(f"  * {r.figure}: {r.note}")
    print(flush=True)


# -- standards ------------------------------------------------------------------------------------
#: the engine tests' standards (greet, drinks, call-ticket), and one with a far deadline, so that
#: clocks opened by the ingestion benchmarks never fall due while they run
BENCH_STANDARDS = (ENGINE_STANDARDS / "floor.yaml", Path(__file__).with_name("bench-job.yaml"))


def standards_dir(workdir: Path, extra: Iterable[Path] = ()) -> Path:
    directory = workdir / "standards"
    directory.mkdir(exist_ok=True)
    for path in (*BENCH_STANDARDS, *extra):
        shutil.copy(path, directory / path.name)
    return directory


# -- publisher and counter processes (bench/mqtt_tools.py) ----------------------------------------
def _tool(args: Sequence[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.mqtt_tools", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_json(process: subprocess.Popen, timeout: float, what: str) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise BenchError(f"{what} did not finish within {timeout:.0f}s: {err[-500:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise BenchError(f"{what} failed (exit {process.returncode}): {err[-1500:]}")
    return json.loads(lines[-1])


class FilePublisher:
    """A separate process publishing a file of messages (one per line) at QoS 1 as fast as the broker
    takes them: ``mosquitto_pub -l -q 1 -M 1000`` (C), or the paho fallback in bench/mqtt_tools.py.

    ``t0`` is taken just before the process starts, ``t1`` when it has exited (every PUBACK in)."""

    def __init__(self, mqtt_url: str, path: Path, messages: int, site: str = "bench", device: str = "pub-0") -> None:
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        topic = f"{PREFIX}/{site}/{device}/events"
        binary = shutil.which("mosquitto_pub")
        if binary:
            command = [binary, "-h", host, "-p", port, "-V", "5", "-q", "1", "-M", "1000", "-t", topic, "-l",
                       "-i", f"bench-pub-{os.getpid()}-{free_port()}"]
        else:
            command = [sys.executable, "-m", "bench.mqtt_tools", "publish", "--url", mqtt_url, "--file", str(path),
                       "--topic", topic]
        self.messages = messages
        self.t0 = time.time()
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=path.open("rb") if binary else subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.t1: float | None = None
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        self.process.wait()
        self.t1 = time.time()

    def wait(self, timeout: float) -> float:
        """Epoch seconds when the publisher finished (every message acknowledged by the broker)."""
        self._watcher.join(timeout)
        if self._watcher.is_alive():
            self.process.kill()
            raise BenchError(f"publisher did not finish within {timeout:.0f}s")
        if self.process.returncode != 0:
            raise BenchError(f"publisher failed (exit {self.process.returncode}): "
                             f"{self.process.stderr.read().decode(errors='replace')[-800:]}")
        return self.t1

    def kill(self) -> None:
        stop_process(self.process, 5)


def payload_file(workdir: Path, name: str, events: int, batch: int = 1, event_type: str = "job_opened",
                 at_base: float | None = None, at_spread: float = 0.0) -> tuple[Path, int]:
    """Write the messages of one publisher run; returns (path, number of messages)."""
    from bench.mqtt_tools import write_payloads

    path = workdir / f"{name}.jsonl"
    messages = write_payloads(path, events, batch, event_type, name, at_base, at_spread)
    return path, messages


class CountingSubscriber:
    """The reference: a bare paho QoS 1 subscriber that only counts messages."""

    def __init__(self, mqtt_url: str, messages: int, timeout: float) -> None:
        self.process = _tool(["count", "--url", mqtt_url, "--messages", messages, "--timeout", timeout])
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            raise BenchError(f"counting subscriber did not start: {line} {self.process.stderr.read()[-500:]}")

    def result(self, timeout: float) -> dict[str, Any]:
        return _read_json(self.process, timeout, "counting subscriber")


# -- profiling ------------------------------------------------------------------------------------
class Profiler:
    """``py-spy record`` on the service while a phase runs; summarised as top functions by share."""

    def __init__(self, directory: Path | None, pid: int, name: str, rate: int = 100, db_url: str | None = None) -> None:
        self.directory = directory
        self.pid = pid
        self.name = name
        self.rate = rate
        self.process: subprocess.Popen | None = None
        self.raw: Path | None = None
        self.started = 0.0
        self.duration = 0.0
        self.server = PgActivitySampler(db_url) if directory is not None and db_url and not db_url.startswith(
            "sqlite") else None

    def __enter__(self) -> "Profiler":
        if self.directory is None:
            return self
        binary = shutil.which("py-spy")
        if binary is None:
            progress("py-spy not installed (pip install py-spy): no profile")
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self.raw = self.directory / f"{self.name}.folded"
        self.process = subprocess.Popen([binary, "record", "-p", str(self.pid), "-o", str(self.raw), "-f", "raw",
                                         "-r", str(self.rate), "--threads", "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started = time.monotonic()
        time.sleep(0.5)  # py-spy attaches
        if self.server:
            self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        self.duration = time.monotonic() - self.started
        if self.server:
            print(self.server.stop(), flush=True)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.raw and self.raw.exists():
            print(summarise_profile(self.raw, self.rate, self.duration, self.name), flush=True)


class PgActivitySampler:
    """What the PostgreSQL server is busy with: ``pg_stat_activity`` sampled every 20 ms (the
    service's waits on the database are invisible to py-spy, which samples only busy threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples = 0
        self.busy = 0
        self.queries: Tally[str] = Tally()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(psycopg_dsn(self.url), autocommit=True) as connection:
            while not self._stop.wait(0.02):
                rows = connection.execute(
                    "SELECT query, coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'").fetchall()
                self.samples += 1
                self.busy += bool(rows)
                for query, wait in rows:
                    self.queries[f"[{wait}] {' '.join(query.split())[:150]}"] += 1

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(5)
        busy = 100 * self.busy / max(self.samples, 1)
        lines = [f"  -- PostgreSQL server: a query of the service was running in {busy:.0f}% "
                 f"of {self.samples} samples (pg_stat_activity every 20 ms); top statements by share of samples (parallel "
                 "workers count apart, so shares may add up to more than 100%):"]
        for query, n in self.queries.most_common(8):
            lines.append(f"    {100 * n / max(self.samples, 1):5.1f}%  {query}")
        return "\n".join(lines)


def _frame_name(frame: str) -> str:
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    func, path = match.groups()
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


def summarise_profile(raw: Path, rate: int, duration: float, title: str, top: int = 18) -> str:
    """Per thread: busy share of wall time; over all threads: top functions by inclusive and self share."""
    threads: Tally[str] = Tally()
    inclusive: Tally[str] = Tally()
    own: Tally[str] = Tally()
    stacks: list[tuple[list[str], int]] = []
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1] if frames and frames[0].startswith("thread") else "?"
        frames = frames[1:] if frames and frames[0].startswith("thread") else frames
        threads[thread] += count
        total += count
        names = [_frame_name(f) for f in frames]
        stacks.append((names, count))
        for name in set(names):
            inclusive[name] += count
        if names:
            own[names[-1]] += count
    wall = max(1.0, rate * duration)
    lines = [f"\n  -- py-spy profile of the service: {title} ({total} active samples over {duration:.1f}s at "
             f"{rate}/s; folded stacks in {raw}) --",
             "  busy share of wall time per thread: " + ", ".join(
                 f"{name} {100 * n / wall:.0f}%" for name, n in threads.most_common(6))]
    lines.append("  inclusive (share of active samples):")
    skip = ("Thread.run", "Thread._bootstrap", "Thread._bootstrap_inner", "<module>", "_run_module_as_main",
            "_run_code")
    shown = 0
    for name, n in inclusive.most_common():
        if name.split(" ")[0] in skip:
            continue
        lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    lines.append("  self (share of active samples):")
    for name, n in own.most_common(12):
        lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
    lines.append("  deepest smartmon line on the stack (where the time is spent, by line of our code):")
    for name, n in hot_lines(raw).most_common(14):
        lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
    for root in BREAKDOWN_ROOTS:
        parts = callee_breakdown(stacks, root)
        if parts:
            under = sum(parts.values())
            lines.append(f"  under {root} ({100 * under / max(total, 1):.1f}% of active samples), by callee:")
            for name, n in parts.most_common(10):
                lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
    return "\n".join(lines)


def hot_lines(raw: Path) -> Tally[str]:
    """Samples by the innermost frame that is smartmon's own code (monitor/), with its line number."""
    lines: Tally[str] = Tally()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        for frame in reversed(stack.split(";")):
            match = re.match(r"(.*) \((.*?):(\d+)\)$", frame)
            if match and _is_ours(match.group(2)):
                func, path, number = match.groups()
                lines[f"{path.split('monitor/')[-1]}:{number} {func}"] += int(count_text)
                break
    return lines


@functools.lru_cache(maxsize=None)
def _is_ours(path: str) -> bool:
    """py-spy shortens paths (``mqtt.py``, ``core/clocks.py``, ``sqlalchemy/orm/session.py``)."""
    if "site-packages" in path or "lib/python" in path:
        return False
    relative = path.split("/monitor/", 1)[-1]
    return (ROOT / "monitor" / relative).is_file()


#: functions whose direct callees the profile summary breaks their time down by
BREAKDOWN_ROOTS = ("Ingestor._ingest", "CaseEvaluator._chunk", "CaseEvaluator._store", "Session.commit",
                   "Scheduler.step", "Scheduler.run")


def callee_breakdown(stacks: list[tuple[list[str], int]], root: str) -> Tally[str]:
    """Samples under the outermost frame named ``root``, by the frame it called (``(self)`` when none)."""
    parts: Tally[str] = Tally()
    for names, count in stacks:
        for i, name in enumerate(names):
            if name.split(" ")[0] == root:
                parts[names[i + 1] if i + 1 < len(names) else "(self)"] += count
                break
    return parts


# -- run context ----------------------------------------------------------------------------------
@dataclass
class Context:
    quick: bool
    full: bool
    dbs: list[str]
    workdir: Path
    profile_dir: Path | None = None
    results: dict[str, list[Result]] = field(default_factory=dict)

    def size(self, quick: int, normal: int) -> int:
        return quick if self.quick else normal


def make_workdir() -> Path:
    """Logs, databases and payload files of one run (removed at the end unless --keep)."""
    return Path(tempfile.mkdtemp(prefix="smartmon-bench-"))


def to_datetime(value: Any):
    """A datetime column read with plain SQL: PostgreSQL gives naive UTC datetimes, SQLite text."""
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


# -- bulk loading (bypassing the service, for the report and start-up benchmarks) -----------------
def _sqlite_text(value: Any) -> Any:
    """SQLAlchemy's SQLite storage: DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff', JSON as text."""
    from datetime import datetime

    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def bulk_load(url: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], total: int,
              what: str) -> float:
    """Load rows straight into a table the service created: COPY on PostgreSQL, executemany in one
    transaction on SQLite. Datetimes are naive UTC. Returns rows per second."""
    started = time.monotonic()
    last = started
    done = 0
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        chunk: list[tuple] = []
        with connection:
            for row in rows:
                chunk.append(tuple(_sqlite_text(v) for v in row))
                if len(chunk) >= 50_000:
                    connection.executemany(sql, chunk)
                    done += len(chunk)
                    chunk = []
                    if time.monotonic() - last > 5:
                        last = time.monotonic()
                        progress(f"{what}: {done:,}/{total:,} rows")
            connection.executemany(sql, chunk)
            done += len(chunk)
        connection.execute("ANALYZE")
        connection.close()
    else:
        import psycopg  # JSON columns take their text in COPY

        with psycopg.connect(psycopg_dsn(url)) as connection:
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([json.dumps(v) if isinstance(v, (dict, list)) else v for v in row])
                        done += 1
                        if done % 100_000 == 0 and time.monotonic() - last > 5:
                            last = time.monotonic()
                            progress(f"{what}: {done:,}/{total:,} rows")
            connection.execute(f"ANALYZE {table}")
    rate = done / max(time.monotonic() - started, 1e-9)
    progress(f"{what}: {done:,} rows loaded at {rate:,.0f} rows/s")
    return rate


def check_columns(url: str, table: str, columns: Sequence[str]) -> None:
    """Refuse to bulk-load when the schema grew a required column this benchmark does not fill."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        missing = [c["name"] for c in inspect(engine).get_columns(table)
                   if c["name"] not in columns and not c.get("nullable", True) and c.get("default") is None
                   and not c.get("autoincrement") and c["name"] not in ("id", "seq")]
    finally:
        engine.dispose()
    if missing:
        raise BenchError(f"table {table} has required columns the benchmark does not fill: {', '.join(missing)}")


EVENT_COLUMNS = ("id", "case_id", "type", "at", "site", "device", "staff", "attrs", "received_at", "source")
CLOCK_COLUMNS = ("standard_id", "version", "case_id", "key", "site", "staff", "state", "start_event_id", "start_at",
                 "start_local", "deadline", "warn_at", "stop_at", "cancelled_at", "paused_since", "duration_s",
                 "data_gap", "next_due_at", "updated_at")
