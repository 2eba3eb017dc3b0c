"""Figure 6: replay of the bank call-centre month end to end (sensors.widelog → sensors.replay → MQTT
→ the service), events/s from the replay's start until every event it sent is stored and evaluated.

The reference is the replay tool alone in the same run, publishing the same file to a broker with
no service behind it. Standards: the benchmark file plus standards/examples/call-centre.yaml (the
events date from February 1999, so every clock is decided or breached the moment it is stored).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

from bench.common import bench_broker, bench_service, BenchError, Context, Profiler, progress, Result, standards_dir
from tests.harness.processes import stop_process
from tests.harness.service import ROOT, wait_count

NAME = "replay"
QUICK_ROWS = 5_000
DATA = ROOT.parent / "shared" / "data" / "anonymous_bank_feb1999.tsv"
DATA_FALLBACK = "/work/shared/data/anonymous_bank_feb1999.tsv"
CALL_CENTRE = ROOT / "standards" / "examples" / "call-centre.yaml"
WIDELOG_ARGS = ["--case-col", "vru+line,call_id", "--date-col", "date", "--date-format", "%y%m%d",
                "--anchor-col", "vru_entry", "--null", "0:00:00", "--step", "q_start=call_queued",
                "--when", "outcome=AGENT:call_answered@q_exit", "--when", "outcome=HANG:call_abandoned@q_exit",
                "--attrs", "server,priority,type=call_type"]
REPLAY_ARGS = ["--tz", "Asia/Jerusalem", "--site", "bank", "--attrs", "server,priority,call_type", "--quiet"]


def _available() -> str | None:
    """Why the benchmark cannot run, or None."""
    from pathlib import Path

    if not DATA.exists() and not Path(DATA_FALLBACK).exists():
        return f"data file {DATA_FALLBACK} not found"
    for module in ("sensors.widelog", "sensors.replay"):
        check = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True)
        if check.returncode != 0:
            return f"{module} is not ready (--help exited {check.returncode}: {check.stderr.strip()[-200:]})"
    return None


def _replay(csv, mqtt_url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sensors.replay", str(csv), *REPLAY_ARGS, "--mqtt-url", mqtt_url],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float) -> int:
    """Wait for a replay; return the number of events it says it sent."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process, 5)
        raise BenchError(f"replay did not finish within {timeout:.0f}s")
    if process.returncode != 0:
        raise BenchError(f"replay exited {process.returncode}: {err.strip()[-600:]}")
    match = re.search(r"(\d+) events sent", out + err)
    if not match:
        raise BenchError(f"replay printed no count of events sent: {(out + err)[-400:]}")
    return int(match.group(1))


def run(ctx: Context) -> list[Result]:
    from pathlib import Path

    why = _available()
    if why:
        progress(f"replay skipped: {why}")
        return [Result("6. replay bank call-centre month", None, "ev/s", note=f"skipped: {why}")]
    data = DATA if DATA.exists() else Path(DATA_FALLBACK)
    csv = ctx.workdir / "bank_feb1999.csv"
    started = time.monotonic()
    convert = subprocess.run([sys.executable, "-m", "sensors.widelog", str(data), "-o", str(csv), *WIDELOG_ARGS,
                              "--quiet"], cwd=ROOT, capture_output=True, text=True)
    if convert.returncode != 0:
        raise BenchError(f"sensors.widelog failed: {convert.stderr.strip()[-600:]}")
    rows = sum(1 for _ in csv.open(encoding="utf-8")) - 1
    progress(f"widelog: {rows:,} events from the wide log in {time.monotonic() - started:.1f}s")
    if ctx.quick:  # the first QUICK_ROWS events only
        lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)[:QUICK_ROWS + 1]
        csv.write_text("".join(lines), encoding="utf-8")
        progress(f"--quick: replaying the first {len(lines) - 1:,} of them")

    with bench_broker(ctx) as broker:
        t0 = time.time()
        sent = _finish(_replay(csv, broker.url), 600)
        reference = sent / (time.time() - t0)
    progress(f"reference: the replay tool alone sent {sent:,} events at {reference:,.0f} events/s")

    results = []
    standards = standards_dir(ctx.workdir, [CALL_CENTRE])
    for kind in ctx.dbs:
        note = " (fresh database, no warm-up: a first replay into a new installation)"
        with bench_broker(ctx) as broker, \
                bench_service(ctx, broker, kind, f"replay-{kind}", standards, note) as (service, db):
            with Profiler(ctx.profile_dir, service.pid, f"replay-{kind}", db_url=db.url):
                t0 = time.time()
                process = _replay(csv, broker.url)
                sent = _finish(process, 600)
                replay_done = time.time()
                reached, stored = wait_count(
                    db, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)", sent,
                    max(120.0, sent / 300), f"replay ({kind}) stored", service, interval=0.25)
            rate = min(stored, sent) / (reached - t0)
            clocks = db.scalar("SELECT count(*) FROM clocks")
            dead = db.scalar("SELECT count(*) FROM dead_letters")
            alerts = db.scalar("SELECT count(*) FROM alert_actions")
        progress(f"replay end to end ({kind}): {stored:,}/{sent:,} at {rate:,.0f} events/s")
        results.append(Result(f"6. replay bank month end to end [{kind}]", rate, "ev/s", reference,
                              "replay tool alone", "-", None,
                              f"{sent:,} events sent ({rows:,} converted rows), {clocks:,} clocks, {alerts:,} alert "
                              f"changes, {dead:,} dead letters; the replay itself finished after "
                              f"{replay_done - t0:.1f}s"
                              + ("" if stored >= sent else f"; TIMEOUT at {stored:,} stored")))
    return results
