"""Replay a recorded event log into the monitor: ``python -m sensors.replay FILE …`` (SPEC §8).

A long-format log — one row per event, as process-mining tools export it — becomes SPEC §1
events sent over MQTT or HTTP. Two inputs:

* CSV with a header (delimiter sniffed: comma, semicolon, tab or pipe), columns named by
  ``--case-col``, ``--type-col``, ``--at-col``; ``--attrs`` columns are copied into ``attrs``.
* JSON lines (``.jsonl``/``.ndjson``, or any file whose first non-blank character is ``{``): each
  line is a §1 event (or an array of them) and is sent exactly as it is.

Choices worth knowing:

* Activity name → event type: lower-case, every run of characters other than ``[a-z0-9]``
  becomes one ``_``, leading/trailing ``_`` are stripped ("ER Sepsis Triage" →
  ``er_sepsis_triage``). SPEC §1 types must start with a letter, so a name that does not
  ("1st contact") gets the prefix ``e_`` (``e_1st_contact``); a type longer than 64 characters
  is cut to 64.
* ``id`` = sha256 of the file's base name and the row's line number, so replaying a file again
  (or from another directory) stores nothing twice. Renaming the file makes new ids.
* A malformed row is skipped and counted by reason; it never stops the replay. Exit status is
  0 when the replay ran, 1 when the transport failed midway, 2 for bad usage or an unreadable file.
* ``--speed 0`` sends as fast as the transport acknowledges, in file order. ``--speed X`` sends
  events in event-time order, X times faster than they happened; ``at`` keeps the recorded time.

Python callers (tests, the end-to-end suite) use ``replay_file(path, ReplayOptions(...))``.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.languages import _l, use_terminal_language
from sensors.publisher import (
    DEFAULT_PREFIX,
    Event,
    SendError,
    SendResult,
    Sender,
    check_name,
    iter_batches,
    open_sender,
)

JSON_SUFFIXES = (".jsonl", ".ndjson")
CANDIDATE_DELIMITERS = ",;\t|"
MAX_CASE_LEN = 200  # SPEC §1
MAX_TYPE_LEN = 64  # SPEC §1: [a-z][a-z0-9_.-]{0,63}
EXAMPLE_LINES_PER_REASON = 5
MESSAGES_IN_FLIGHT = 20  # how many messages one send() call may pipeline (see MqttPublisher)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class UsageError(Exception):
    """Bad options or an unreadable input: nothing was sent, exit status 2."""


# -- mapping rows to events ------------------------------------------------------------------


def activity_to_type(name: str) -> str | None:
    """Activity name → SPEC §1 event type ("ER Sepsis Triage" → ``er_sepsis_triage``);
    ``None`` when no letter or digit is left (the row is then skipped with that reason)."""
    slug = _NON_ALNUM.sub("_", name.lower()).strip("_")
    if not slug:
        return None
    if not slug[0].isalpha():
        slug = f"e_{slug}"
    return slug[:MAX_TYPE_LEN].rstrip("_")


def event_id(source_name: str, line: int) -> str:
    """Stable across runs and machines: the base name only, never the directory."""
    digest = hashlib.sha256(f"{os.path.basename(source_name)}\n{line}".encode("utf-8"))
    return digest.hexdigest()[:40]


def parse_at(text: str, at_format: str | None, tz: ZoneInfo) -> datetime:
    """Parse a timestamp; one without an offset is read in ``tz``. Raises ValueError."""
    text = text.strip()
    moment = datetime.strptime(text, at_format) if at_format else datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


# -- skips and the summary -------------------------------------------------------------------


@dataclass
class SkipTally:
    """Skipped rows by reason, with the first few line numbers of each so the user can look."""

    counts: Counter = field(default_factory=Counter)
    lines: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, reason: str, line: int) -> None:
        self.counts[reason] += 1
        examples = self.lines.setdefault(reason, [])
        if len(examples) < EXAMPLE_LINES_PER_REASON:
            examples.append(line)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> list[str]:
        return [
            f"{reason}: {count} ({_line_list(self.lines[reason], count)})"
            for reason, count in self.counts.most_common()
        ]


def _line_list(lines: list[int], count: int) -> str:
    shown = ", ".join(str(n) for n in lines)
    word = "line" if count == 1 else "lines"
    return f"{word} {shown}{', …' if count > len(lines) else ''}"


@dataclass
class Summary:
    """What a replay did; returned to Python callers and printed at the end of the CLI run."""

    files: list[str] = field(default_factory=list)
    read: int = 0  # events produced from the files (a JSON line may hold several)
    sent: int = 0
    skips: SkipTally = field(default_factory=SkipTally)
    monitor: SendResult = field(default_factory=SendResult)
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return self.skips.total

    @property
    def rows(self) -> int:
        return self.read + self.skipped

    @property
    def reasons(self) -> dict[str, int]:
        return dict(self.skips.counts)

    def report(self) -> str:
        lines = [
            f"replay: done in {self.seconds:.1f}s: {self.rows} rows read from {len(self.files)} "
            f"file(s), {self.sent} events sent, {self.skipped} rows skipped"
        ]
        lines += [f"  skipped, {text}" for text in self.skips.describe()]
        if self.monitor.accepted is not None:
            lines.append(
                f"  monitor: {self.monitor.accepted} accepted, {self.monitor.duplicates or 0} "
                f"duplicates, {len(self.monitor.rejected)} rejected"
            )
            reasons = Counter(str(r.get("reason", "?")) for r in self.monitor.rejected)
            lines += [f"  rejected, {reason}: {n}" for reason, n in reasons.most_common()]
        return "\n".join(lines)


# -- options ---------------------------------------------------------------------------------


@dataclass
class ReplayOptions:
    case_col: str = "case"
    type_col: str = "type"
    at_col: str = "at"
    at_format: str | None = None
    tz: str = "UTC"
    site: str = "replay"
    device: str = "replay"
    to: str = "mqtt"
    mqtt_url: str | None = None
    url: str | None = None
    token: str | None = None
    speed: float = 0.0
    attrs: Sequence[str] = ()
    staff_col: str | None = None
    batch: int = 100
    prefix: str = DEFAULT_PREFIX
    progress: bool = False

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise UsageError(f"unknown time zone {self.tz!r}") from exc

    def columns(self) -> list[str]:
        """Every CSV column these options read."""
        named = [self.case_col, self.type_col, self.at_col, *self.attrs]
        return named + ([self.staff_col] if self.staff_col else [])

    def check(self) -> None:
        """Fail before sending anything, so a typo never yields half a replay."""
        self.zone()
        try:
            check_name("site", self.site)
            check_name("device", self.device)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        if self.speed < 0:
            raise UsageError("--speed must be 0 or more")
        if not 1 <= self.batch <= 1000:
            raise UsageError("--batch must be between 1 and 1000 (SPEC §1 batch limit)")
        if self.to == "http" and not (self.url and self.token):
            raise UsageError("--to http needs --url and --token")
        if self.to not in ("mqtt", "http"):
            raise UsageError("--to must be mqtt or http")


# -- reading files ---------------------------------------------------------------------------


class Timed(NamedTuple):
    """An event and its parsed time (``None`` for a passed-through event whose ``at`` is bad)."""

    event: Event
    at: datetime | None


def open_text(path: str | Path) -> IO[str]:
    """UTF-8 with or without BOM (spreadsheet exports add one); ``newline=''`` for csv.

    Undecodable bytes become U+FFFD instead of aborting halfway through a long file.
    """
    try:
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def looks_like_json_lines(path: str | Path, head: str) -> bool:
    if str(path).lower().endswith(JSON_SUFFIXES):
        return True
    stripped = head.lstrip()
    return stripped.startswith("{") or stripped.startswith("[{")


def sniff_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """csv.Sniffer on whole lines; when it cannot decide, the candidate most frequent in the
    header wins (a one-column file or odd quoting confuses the sniffer, not the header)."""
    whole = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(whole, delimiters=CANDIDATE_DELIMITERS)
    except csv.Error:
        header = whole.splitlines()[0] if whole else ""
        best = max(CANDIDATE_DELIMITERS, key=header.count)

        class Fallback(csv.excel):
            delimiter = best

        return Fallback


def read_table(handle: IO[str]) -> csv.DictReader:
    """A DictReader over a CSV whose delimiter is sniffed from its first 64 KiB."""
    sample = handle.read(65536)
    handle.seek(0)
    return csv.DictReader(handle, dialect=sniff_dialect(sample))


def require_columns(reader: csv.DictReader, needed: Iterable[str], path: str | Path) -> None:
    header = reader.fieldnames or []
    missing = [c for c in needed if c not in header]
    if missing:
        raise UsageError(
            f"{path}: column(s) {', '.join(map(repr, missing))} not in the header "
            f"(columns: {', '.join(header)})"
        )


def read_csv_events(
    handle: IO[str], source: str, options: ReplayOptions, skips: SkipTally
) -> Iterator[Timed]:
    reader = read_table(handle)
    require_columns(reader, options.columns(), source)
    zone = options.zone()
    for row in reader:
        line = reader.line_num
        timed = row_to_event(row, line, source, options, zone)
        if isinstance(timed, str):
            skips.skip(timed, line)
        else:
            yield timed


def row_to_event(
    row: dict[str, Any], line: int, source: str, options: ReplayOptions, zone: ZoneInfo
) -> Timed | str:
    """One CSV row → an event, or the reason it cannot be one."""
    case = (row.get(options.case_col) or "").strip()
    activity = row.get(options.type_col) or ""
    stamp = row.get(options.at_col)
    if not case:
        return "missing case"
    if len(case) > MAX_CASE_LEN:
        return f"case longer than {MAX_CASE_LEN} characters"
    if not activity.strip():
        return "missing activity"
    event_type = activity_to_type(activity)
    if event_type is None:
        return "activity name has no letters or digits"
    if stamp is None or not stamp.strip():
        return "missing timestamp"
    try:
        at = parse_at(stamp, options.at_format, zone)
    except ValueError:
        return "unparseable timestamp"
    event: Event = {
        "id": event_id(source, line),
        "case": case,
        "type": event_type,
        "at": at.isoformat(),
        "site": options.site,
    }
    staff = (row.get(options.staff_col) or "").strip() if options.staff_col else ""
    if staff:
        event["staff"] = staff
    attrs = {c: row[c] for c in options.attrs if row.get(c) not in (None, "")}
    if attrs:
        event["attrs"] = attrs
    return Timed(event, at)


def read_jsonl_events(handle: IO[str], skips: SkipTally) -> Iterator[Timed]:
    """§1 events pass through untouched; the monitor, not the replay, judges their fields."""
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            payload = json.loads(text)
        except ValueError:
            skips.skip("invalid JSON", line)
            continue
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if isinstance(item, dict):
                yield Timed(item, _iso_or_none(item.get("at")))
            else:
                skips.skip("not a JSON object", line)


def _iso_or_none(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


def _is_json_lines(handle: IO[str], path: str | Path) -> bool:
    head = handle.read(4096)
    if "\x00" in head:
        raise UsageError(f"{path} looks binary, not CSV or JSON lines")
    handle.seek(0)
    return looks_like_json_lines(path, head)


def check_source(path: str | Path, options: ReplayOptions) -> None:
    """Raise UsageError when ``path`` cannot be read or lacks a named column."""
    with open_text(path) as handle:
        if not _is_json_lines(handle, path):
            require_columns(read_table(handle), options.columns(), path)


def read_events(path: str | Path, options: ReplayOptions, skips: SkipTally) -> Iterator[Timed]:
    """The events of one file, CSV or JSON lines; malformed rows go to ``skips``."""
    with open_text(path) as handle:
        if _is_json_lines(handle, path):
            yield from read_jsonl_events(handle, skips)
        else:
            yield from read_csv_events(handle, str(path), options, skips)


# -- pacing ----------------------------------------------------------------------------------


def paced_batches(
    events: Sequence[Timed],
    speed: float,
    batch: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[list[Event]]:
    """Yield events when they are due at ``speed`` × real time, oldest first.

    Events already due go out together (up to ``batch``), so a burst of simultaneous events is
    one message, not many. Passed-through JSON events without a usable ``at`` go out first:
    the monitor will dead-letter them anyway, pacing them would only guess.
    """
    ordered = sorted(events, key=_time_key)
    known = [t.at for t in ordered if t.at is not None]
    if not known:
        yield from iter_batches((t.event for t in ordered), batch)
        return
    first, started = known[0], clock()
    pending: list[Event] = []
    for timed in ordered:
        if timed.at is not None:
            due = started + (timed.at - first).total_seconds() / speed
            if due > clock() and pending:
                yield pending
                pending = []
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        pending.append(timed.event)
        if len(pending) >= batch:
            yield pending
            pending = []
    if pending:
        yield pending


def _time_key(timed: Timed) -> tuple[int, float]:
    return (0, 0.0) if timed.at is None else (1, timed.at.timestamp())


# -- running ---------------------------------------------------------------------------------


class Progress:
    """At most one stderr line a second: long replays show life, short ones stay quiet."""

    def __init__(self, summary: Summary, enabled: bool, stream: IO[str] | None = None) -> None:
        self.summary = summary
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= 1.0:
            self.last = now
            s = self.summary
            print(f"replay: {s.rows} rows read, {s.sent} sent, {s.skipped} skipped", file=self.stream)


def replay_files(
    paths: Sequence[str | Path], options: ReplayOptions, sender: Sender | None = None
) -> Summary:
    """Replay ``paths`` in order (or merged by event time when ``speed`` > 0).

    Raises UsageError before sending anything when an option or a file is bad, and SendError
    when the transport fails midway (events sent so far stay sent; rerunning is harmless).
    """
    options.check()
    for path in paths:
        check_source(path, options)  # every file readable before the first event leaves
    summary = Summary(files=[str(p) for p in paths])
    progress = Progress(summary, options.progress)
    started = time.monotonic()
    own_sender = sender is None
    sender = sender or _open(options)
    try:
        timed = _counted(paths, options, summary, progress)
        if options.speed > 0:
            batches = paced_batches(list(timed), options.speed, options.batch)
        else:
            events = (t.event for t in timed)
            batches = iter_batches(events, options.batch * MESSAGES_IN_FLIGHT)
        for batch in batches:
            summary.monitor.add(sender.send(batch))
            summary.sent += len(batch)
            progress.tick()
    finally:
        summary.seconds = time.monotonic() - started
        if own_sender:
            sender.close()
    return summary


def replay_file(path: str | Path, options: ReplayOptions | None = None, sender: Sender | None = None) -> Summary:
    """Replay one file; the function the end-to-end tests call."""
    return replay_files([path], options or ReplayOptions(), sender)


def _open(options: ReplayOptions) -> Sender:
    return open_sender(
        options.to,
        site=options.site,
        device=options.device,
        mqtt_url=options.mqtt_url,
        url=options.url,
        token=options.token,
        batch=options.batch,
        prefix=options.prefix,
    )


def _counted(
    paths: Sequence[str | Path], options: ReplayOptions, summary: Summary, progress: Progress
) -> Iterator[Timed]:
    """All files' events in file order, counted as they stream past."""
    for path in paths:
        for timed in read_events(path, options, summary.skips):
            summary.read += 1
            progress.tick()
            yield timed


# -- command line ----------------------------------------------------------------------------

EPILOG = _l("""\
examples:
  # a process-mining export (comma or semicolon CSV), timestamps in local time:
  python -m sensors.replay sepsis.csv --case-col "Case ID" --type-col Activity \\
      --at-col "Complete Timestamp" --at-format "%Y/%m/%d %H:%M:%S.%f" --tz Europe/Amsterdam

  # SPEC §1 events as JSON lines, over HTTP with a device token:
  python -m sensors.replay events.jsonl --to http --url http://localhost:8000 --token $TOKEN

  # the bank call-centre month, after converting it with sensors.widelog:
  python -m sensors.replay bank.csv --tz Asia/Jerusalem --site bank --attrs server,priority,type

Activity names become event types: lower-cased, runs of other characters than [a-z0-9] become
one "_" ("ER Sepsis Triage" -> er_sepsis_triage); a name not starting with a letter gets "e_".
Event ids hash the file's base name and line number: replaying the same file again stores
nothing twice. Malformed rows are skipped and counted by reason in the final summary.
Exit status: 0 ran (even with skipped rows), 1 transport failed, 2 bad usage or unreadable file.
""")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sensors.replay",
        description=_l("Replay a recorded event log (long-format CSV or JSON lines) into the "
                       "monitor over MQTT or HTTP."),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=_l("CSV or JSON-lines event logs"))
    columns = parser.add_argument_group(_l("CSV columns"))
    columns.add_argument("--case-col", default="case", help=_l("case id column (default: case)"))
    columns.add_argument("--type-col", default="type", help=_l("activity / event type column (default: type)"))
    columns.add_argument("--at-col", default="at", help=_l("timestamp column (default: at)"))
    columns.add_argument("--at-format", help=_l("strptime format of the timestamps (default: ISO 8601)"))
    columns.add_argument("--tz", default="UTC", help=_l("time zone of timestamps without offset (default: UTC)"))
    columns.add_argument("--attrs", default="", help=_l("comma-separated columns copied into attrs"))
    columns.add_argument("--staff-col", help=_l("column copied into the event's staff field"))
    target = parser.add_argument_group(_l("where to send"))
    target.add_argument("--to", choices=("mqtt", "http"), default="mqtt", help=_l("transport (default: mqtt)"))
    target.add_argument("--mqtt-url", help=_l("broker URL (default: $MONITOR_MQTT_URL or mqtt://127.0.0.1:1883)"))
    target.add_argument("--prefix", default=DEFAULT_PREFIX, help=_l("MQTT topic prefix (default: %(default)s)"))
    target.add_argument("--url", help=_l("monitor base URL for --to http, e.g. http://localhost:8000"))
    target.add_argument("--token", help=_l("device bearer token for --to http"))
    target.add_argument("--site", default="replay", help=_l("site of the events and topic (default: replay)"))
    target.add_argument("--device", default="replay", help=_l("device name in the topic (default: replay)"))
    pace = parser.add_argument_group(_l("pace"))
    pace.add_argument("--speed", type=float, default=0.0,
                      help=_l("0 = as fast as possible (default); X = X times real time, in event-time order"))
    pace.add_argument("--batch", type=int, default=100, help=_l("events per message or POST (default: 100)"))
    pace.add_argument("--quiet", action="store_true", help=_l("no progress lines"))
    return parser


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    return ReplayOptions(
        case_col=args.case_col,
        type_col=args.type_col,
        at_col=args.at_col,
        at_format=args.at_format,
        tz=args.tz,
        site=args.site,
        device=args.device,
        to=args.to,
        mqtt_url=args.mqtt_url,
        url=args.url,
        token=args.token,
        speed=args.speed,
        attrs=[c.strip() for c in args.attrs.split(",") if c.strip()],
        staff_col=args.staff_col,
        batch=args.batch,
        prefix=args.prefix,
        progress=not args.quiet,
    )


def main(argv: Sequence[str] | None = None) -> int:
    use_terminal_language()
    parser = build_parser()
    args = parser.parse_args(argv)
    options = options_from_args(args)
    try:
        summary = replay_files(args.files, options)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"replay: error: {exc}", file=sys.stderr)
        return 2
    except SendError as exc:
        print(f"replay: transport failed: {exc} (rerun: ids make resending harmless)", file=sys.stderr)
        return 1
    print(summary.report(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
