"""``python -m bench``: run every benchmark (or ``--only`` some) and print their tables.

    python -m bench                       # everything, normal sizes, SQLite and PostgreSQL
    python -m bench --quick               # small sizes: a smoke run in under two minutes
    python -m bench --only ingest --db postgresql --profile /tmp/prof
    python -m bench --only reports --full # adds the 10-million-clock PostgreSQL report run
    python -m bench --only verify --db sqlite  # audit verify at 100k and 1 M clocks

PostgreSQL is the database named by BENCH_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/bench); the benchmarks empty its ``public`` schema,
so never point it at a database you care about (``test``, ``postgres`` are refused).
"""
from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
import traceback

from bench.common import Context, Result, make_workdir, print_harness_progress, print_table, progress
from tests.harness.processes import HarnessError

BENCHMARKS = {
    "ingest": ("bench.ingest", "1-2. MQTT ingestion, single events and batches of 100"),
    "alerts": ("bench.alert_lag", "3. alert lag with 100,000 open clocks"),
    "reports": ("bench.reports", "4. compliance reports over 1,000,000 clocks"),
    "memory": ("bench.memory", "5. memory per open clock, start-up time"),
    "replay": ("bench.replay", "6. replay of the bank call-centre month"),
    "notify": ("bench.notify", "7. alert opening to webhook delivery, 500 alerts"),
    "verify": ("bench.verify", "8. audit verify (chain and figures) at 100,000 and 1,000,000 clocks"),
    "tablet": ("bench.tablet", "9. the staff tablet's poll on a busy day"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[],
                        help=f"run only these (repeatable or comma-separated): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run, < 2 minutes)")
    parser.add_argument("--full", action="store_true", help="also the 10 M-clock PostgreSQL report (slow)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profile", metavar="DIR", default=None,
                        help="py-spy record the service during measured phases; folded stacks and top "
                             "functions written to DIR")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args(argv)

    names = [n for item in args.only for n in item.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    from pathlib import Path

    print_harness_progress()
    workdir = make_workdir()
    ctx = Context(quick=args.quick, full=args.full,
                  dbs=["sqlite", "postgresql"] if args.db == "both" else [args.db], workdir=workdir,
                  profile_dir=Path(args.profile).resolve() if args.profile else None)
    print(f"smartmon benchmarks: {', '.join(names)}; {'quick' if args.quick else 'normal'} sizes; "
          f"databases {', '.join(ctx.dbs)}; work directory {workdir}", flush=True)
    started = time.monotonic()
    failures = 0
    for name in names:
        module_name, title = BENCHMARKS[name]
        print(f"\n### {name}: {title}", flush=True)
        began = time.monotonic()
        try:
            module = importlib.import_module(module_name)
            results = module.run(ctx)
        except HarnessError as exc:  # BenchError too: a process died, a wait timed out
            failures += 1
            progress(f"{name} could not run: {exc}")
            results = [Result(f"{name}", None, "", note=f"did not run: {str(exc).splitlines()[0]}")]
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            failures += 1
            traceback.print_exc()
            results = [Result(f"{name}", None, "", note="crashed (traceback above)")]
        ctx.results[name] = results
        print_table(f"{name} ({time.monotonic() - began:.0f}s)", results)

    print(f"\n=== summary ({time.monotonic() - started:.0f}s; ratio = value / reference) ===")
    all_results = [r for name in names for r in ctx.results.get(name, [])]
    print_table("all figures", all_results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({name: [r.to_json() for r in ctx.results.get(name, [])] for name in names}, out, indent=2)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work directory kept: {workdir}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
