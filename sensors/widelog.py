"""Wide logs → the long event CSV that ``sensors.replay`` reads: ``python -m sensors.widelog``.

Queue and call-centre systems export one row per case with one timestamp column per step (call
entered the queue, left it, service started…). smartmon times events, so each such row is turned
into one long-format row per step that happened: ``case,type,at[,attrs…]``. The mapping is small:

* ``--case-col COL[,COL…]`` — the case id; several columns are joined with ``/`` (needed when an
  id is only unique together with a line or a date);
* ``--step COL=event_type`` (repeatable) — an event whenever the cell is filled; a cell that is
  empty or equals a ``--null`` value (repeatable, e.g. ``0:00:00``) means the step never happened;
* ``--when COL=VALUE:event_type@TIMECOL`` (repeatable) — an event at TIMECOL when COL equals VALUE
  (an outcome column deciding whether the call was answered or abandoned);
* ``--date-col`` + ``--date-format`` — when the time columns hold a time of day only
  (``--time-format``, default ``%H:%M:%S``, which also reads ``7:02:47``). A time more than 12
  hours earlier than the row's anchor time (``--anchor-col``, else the first mapped time of the
  row) is taken to be on the next day: calls queue across midnight, while a few seconds or
  minutes earlier is only clock skew between subsystems.
* ``--attrs COL[=NAME],…`` — columns copied to every event of the row; ``NAME`` renames one, which
  is required for a column called ``case``, ``type`` or ``at``.

Times are written as they are (with ``--date-col``: naive ISO ``1999-02-01T08:09:22``); give the
zone to replay with ``--tz``. Rows without a case or with an unreadable date are skipped and
counted, never fatal.

Worked example: the anonymous Israeli bank call centre, February 1999 (tab-separated, CRLF, dates
YYMMDD, times H:MM:SS, ``0:00:00`` meaning "did not happen"). ``call_id`` repeats across VRU lines
(8,559 ids occur more than once in the month), so the case is ``vru+line/call_id``, which is
unique. A call is queued at ``q_start`` when that is not ``0:00:00``; it is answered at ``q_exit``
when ``outcome`` is ``AGENT`` and abandoned at ``q_exit`` when it is ``HANG``. Calls served straight
from the VRU have ``q_exit`` ``0:00:00`` and so get no queue events at all (PHANTOM calls get only
``call_queued``). The date belongs to ``vru_entry``, the anchor for midnight crossings::

    python -m sensors.widelog /work/shared/data/anonymous_bank_feb1999.tsv -o bank_feb1999.csv \\
        --case-col vru+line,call_id --date-col date --date-format %y%m%d --anchor-col vru_entry \\
        --null 0:00:00 --step q_start=call_queued \\
        --when outcome=AGENT:call_answered@q_exit --when outcome=HANG:call_abandoned@q_exit \\
        --attrs server,priority,type=call_type

    python -m sensors.replay bank_feb1999.csv --tz Asia/Jerusalem --site bank \\
        --attrs server,priority,call_type

(``server`` is the agent who took the call; standards/examples/call-centre.yaml times it.)
From Python: ``convert_file(path, BANK_FEB1999, "bank_feb1999.csv")``, then
``replay_file("bank_feb1999.csv", ReplayOptions(tz=BANK_FEB1999_TZ, site="bank", attrs=[…]))``.
One known limit of the source: a call that entered the queue at exactly midnight is recorded as
``q_start`` ``0:00:00`` too, so it gets ``call_answered`` without ``call_queued`` (one call in the
month); its clock simply never starts.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from monitor.languages import _l, use_terminal_language
from sensors.replay import SkipTally, UsageError, open_text, read_table, require_columns

LONG_COLUMNS = ("case", "type", "at")
ROLLOVER = timedelta(hours=12)  # a time this much before the anchor belongs to the next day


@dataclass(frozen=True)
class Step:
    """An event whenever ``column`` holds a time."""

    column: str
    event_type: str


@dataclass(frozen=True)
class When:
    """An event at ``time_col`` when ``column`` equals ``value``."""

    column: str
    value: str
    event_type: str
    time_col: str


@dataclass
class WideMapping:
    case_cols: Sequence[str]
    steps: Sequence[Step] = ()
    whens: Sequence[When] = ()
    date_col: str | None = None
    date_format: str = "%Y-%m-%d"
    time_format: str = "%H:%M:%S"
    anchor_col: str | None = None
    null_values: Sequence[str] = ()
    attrs: Sequence[tuple[str, str]] = ()  # (source column, name in the long file)
    case_sep: str = "/"

    def columns(self) -> list[str]:
        """Every wide column the mapping reads, to check the header before converting."""
        named = [*self.case_cols, *(s.column for s in self.steps)]
        named += [c for w in self.whens for c in (w.column, w.time_col)]
        named += [c for c in (self.date_col, self.anchor_col) if c]
        named += [source for source, _ in self.attrs]
        return list(dict.fromkeys(named))

    def attr_names(self) -> list[str]:
        return [name for _, name in self.attrs]

    def check(self) -> None:
        if not self.case_cols:
            raise UsageError("--case-col is required")
        if not (self.steps or self.whens):
            raise UsageError("give at least one --step or --when")
        clash = [n for n in self.attr_names() if n in LONG_COLUMNS]
        if clash:
            raise UsageError(
                f"attribute name(s) {', '.join(clash)} clash with the long file's own columns; "
                f"rename, e.g. --attrs {clash[0]}={clash[0]}_value"
            )
        if self.anchor_col and not self.date_col:
            raise UsageError("--anchor-col only makes sense with --date-col")


@dataclass
class ConvertStats:
    """Counts for the converter's own summary (the lead's tests read ``events``)."""

    rows: int = 0
    events: Counter = field(default_factory=Counter)
    omitted: Counter = field(default_factory=Counter)  # step not taken: empty or null cell
    skips: SkipTally = field(default_factory=SkipTally)

    def report(self) -> str:
        per_type = ", ".join(f"{t}: {n}" for t, n in sorted(self.events.items()))
        lines = [
            f"widelog: {self.rows} rows read, {sum(self.events.values())} events written"
            f" ({per_type or 'none'}), {self.skips.total} skipped"
        ]
        lines += [f"  skipped, {text}" for text in self.skips.describe()]
        lines += [f"  not happened, {why}: {n}" for why, n in sorted(self.omitted.items())]
        return "\n".join(lines)


def convert(path: str | Path, mapping: WideMapping, stats: ConvertStats | None = None) -> Iterator[dict[str, str]]:
    """Long rows ``{case, type, at, attr…}`` from a wide file, row by row, in file order.

    Raises UsageError at once (before the first row) for a bad mapping or missing columns.
    """
    mapping.check()
    stats = stats if stats is not None else ConvertStats()
    handle = open_text(path)
    try:
        reader = read_table(handle)
        require_columns(reader, mapping.columns(), path)
    except BaseException:
        handle.close()
        raise
    return _convert_rows(handle, reader, mapping, stats)


def _convert_rows(
    handle: IO[str], reader: csv.DictReader, mapping: WideMapping, stats: ConvertStats
) -> Iterator[dict[str, str]]:
    with handle:
        for row in reader:
            stats.rows += 1
            for long_row in row_events(row, reader.line_num, mapping, stats):
                stats.events[long_row["type"]] += 1
                yield long_row


def row_events(row: dict[str, str], line: int, mapping: WideMapping, stats: ConvertStats) -> list[dict[str, str]]:
    """The long rows of one wide row; problems are counted in ``stats``."""
    parts = [(row.get(c) or "").strip() for c in mapping.case_cols]
    if not all(parts):
        stats.skips.skip("missing case", line)
        return []
    case = mapping.case_sep.join(parts)
    wanted = [(s.event_type, s.column) for s in mapping.steps]
    wanted += [(w.event_type, w.time_col) for w in mapping.whens if _cell(row, w.column) == w.value]
    present: list[tuple[str, str, str]] = []  # (event type, column, cell)
    for event_type, column in wanted:
        cell = _cell(row, column)
        if cell == "" or cell in mapping.null_values:
            stats.omitted[f"{event_type} ({column} empty or null)"] += 1
        else:
            present.append((event_type, column, cell))
    stamps = _timestamps(row, line, present, mapping, stats)
    attrs = {name: _cell(row, source) for source, name in mapping.attrs}
    return [{"case": case, "type": t, "at": at, **attrs} for t, at in stamps]


def _cell(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _timestamps(
    row: dict[str, str], line: int, present: list[tuple[str, str, str]], mapping: WideMapping, stats: ConvertStats
) -> list[tuple[str, str]]:
    """``(event type, at text)`` in time order; cells as they are when there is no date column."""
    if not mapping.date_col:
        return [(t, cell) for t, _, cell in present]
    try:
        day = datetime.strptime(_cell(row, mapping.date_col), mapping.date_format).date()
    except ValueError:
        stats.skips.skip(f"unparseable date in {mapping.date_col}", line)
        return []
    times: list[tuple[str, time]] = []
    for event_type, column, cell in present:
        try:
            times.append((event_type, datetime.strptime(cell, mapping.time_format).time()))
        except ValueError:
            stats.skips.skip(f"unparseable time in {column}", line)
    if not times:
        return []
    anchor = _anchor_time(row, mapping) or times[0][1]
    moments = [(t, on_day_after(day, clock, anchor)) for t, clock in times]
    return [(t, moment.isoformat()) for t, moment in sorted(moments, key=lambda m: m[1])]


def _anchor_time(row: dict[str, str], mapping: WideMapping) -> time | None:
    cell = _cell(row, mapping.anchor_col) if mapping.anchor_col else ""
    if not cell or cell in mapping.null_values:
        return None
    try:
        return datetime.strptime(cell, mapping.time_format).time()
    except ValueError:
        return None


def on_day_after(day: date, clock: time, anchor: time) -> datetime:
    """``day`` at ``clock``, or the next day when ``clock`` is more than 12 hours before the
    row's anchor time: a call that entered at 23:59:19 and left the queue at 0:00:26 left it the
    next day, while a queue start a few minutes *before* the VRU entry (the bank's subsystems'
    clocks disagree, 25 calls in the month) is the same day."""
    moment = datetime.combine(day, clock)
    earlier_by = datetime.combine(day, anchor) - moment
    return moment + timedelta(days=1) if earlier_by > ROLLOVER else moment


def write_long_csv(rows: Iterable[dict[str, str]], out: IO[str], attr_names: Sequence[str]) -> int:
    """Write the long CSV (comma, header ``case,type,at,attrs…``); returns rows written."""
    writer = csv.DictWriter(out, fieldnames=[*LONG_COLUMNS, *attr_names], lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def convert_file(path: str | Path, mapping: WideMapping, out_path: str | Path) -> ConvertStats:
    """Convert ``path`` into the long CSV ``out_path``, ready for ``sensors.replay.replay_file``."""
    stats = ConvertStats()
    rows = convert(path, mapping, stats)
    with open(out_path, "w", encoding="utf-8", newline="") as out:
        write_long_csv(rows, out, mapping.attr_names())
    return stats


# The worked example of the module docstring, for Python callers (the end-to-end tests).
BANK_FEB1999 = WideMapping(
    case_cols=["vru+line", "call_id"],
    steps=[Step("q_start", "call_queued")],
    whens=[
        When("outcome", "AGENT", "call_answered", "q_exit"),
        When("outcome", "HANG", "call_abandoned", "q_exit"),
    ],
    date_col="date",
    date_format="%y%m%d",
    anchor_col="vru_entry",
    null_values=["0:00:00"],
    attrs=[("server", "server"), ("priority", "priority"), ("type", "call_type")],
)
BANK_FEB1999_TZ = "Asia/Jerusalem"


# -- command line ----------------------------------------------------------------------------


def parse_step(text: str) -> Step:
    column, sep, event_type = text.rpartition("=")
    if not sep or not column or not event_type:
        raise argparse.ArgumentTypeError(f"expected COL=event_type, got {text!r}")
    return Step(column, event_type)


def parse_when(text: str) -> When:
    """``COL=VALUE:event_type@TIMECOL``; VALUE may itself contain ``:`` or ``=``."""
    column, sep, rest = text.partition("=")
    head, at_sep, time_col = rest.rpartition("@")
    value, colon, event_type = head.rpartition(":")
    if not (sep and at_sep and colon and column and event_type and time_col):
        raise argparse.ArgumentTypeError(f"expected COL=VALUE:event_type@TIMECOL, got {text!r}")
    return When(column, value, event_type, time_col)


def parse_attrs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, _, name = item.partition("=")
        pairs.append((source, name or source))
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sensors.widelog",
        description=_l("Convert a wide log (one row per case, one time column per step) into the "
                       "long CSV (case,type,at,attrs…) that `python -m sensors.replay` reads."),
        epilog=__doc__[__doc__.index("Worked example"):],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help=_l("wide CSV/TSV (delimiter sniffed)"))
    parser.add_argument("-o", "--output", help=_l("long CSV to write (default: standard output)"))
    parser.add_argument("--case-col", required=True, help=_l("case id column(s), comma-separated, joined with '/'"))
    parser.add_argument("--step", action="append", type=parse_step, default=[], metavar="COL=TYPE",
                        help=_l("an event_type at COL whenever COL is filled (repeatable)"))
    parser.add_argument("--when", action="append", type=parse_when, default=[], metavar="COL=VALUE:TYPE@TIMECOL",
                        help=_l("an event at TIMECOL when COL equals VALUE (repeatable)"))
    parser.add_argument("--null", action="append", default=[], metavar="VALUE",
                        help=_l("a cell value meaning 'did not happen', besides empty (repeatable)"))
    parser.add_argument("--date-col", help=_l("date column, when time columns hold a time of day only"))
    parser.add_argument("--date-format", default="%Y-%m-%d",
                        help=_l("strptime format of --date-col (default: %%Y-%%m-%%d)"))
    parser.add_argument("--time-format", default="%H:%M:%S",
                        help=_l("strptime format of time cells (default: %%H:%%M:%%S)"))
    parser.add_argument("--anchor-col", help=_l("time column the date belongs to; earlier times are next day"))
    parser.add_argument("--attrs", default="", help=_l("COL[=NAME],… copied to every event of the row"))
    parser.add_argument("--quiet", action="store_true", help=_l("no summary on standard error"))
    return parser


def mapping_from_args(args: argparse.Namespace) -> WideMapping:
    return WideMapping(
        case_cols=[c.strip() for c in args.case_col.split(",") if c.strip()],
        steps=args.step,
        whens=args.when,
        date_col=args.date_col,
        date_format=args.date_format,
        time_format=args.time_format,
        anchor_col=args.anchor_col,
        null_values=args.null,
        attrs=parse_attrs(args.attrs),
    )


def main(argv: Sequence[str] | None = None) -> int:
    use_terminal_language()
    parser = build_parser()
    args = parser.parse_args(argv)
    mapping = mapping_from_args(args)
    stats = ConvertStats()
    try:
        if args.output:
            stats = convert_file(args.file, mapping, args.output)
        else:
            write_long_csv(convert(args.file, mapping, stats), sys.stdout, mapping.attr_names())
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"widelog: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"widelog: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(stats.report(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
