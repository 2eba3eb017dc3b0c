"""CLI commands for auditors: ``python -m monitor report …`` and ``python -m monitor audit verify``.

Both only read: they use the database and the standards versions stored in it as they are (no
migration, no import of the standards directory), so an auditor's read-only login suffices.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import click

from monitor.cli_database import with_database
from monitor.reports.formats import FORMATS, format_of_extension
from monitor.reports.groups import GROUP_KEYS
from monitor.i18n import check_language
from monitor.languages import _l, environment_tag, translator
from monitor.languages import terminal_text as _words
from monitor.reports.params import ReportParamError, format_bound, parse_format, report_query
from monitor.core.messages import Message, msg

#: what `audit verify` counts as it goes (monitor.verification's progress), as the reader says it
PROGRESS_WORDS = {"links": msg("links"), "clocks": msg("clocks")}


def _say(message: Message, err: bool = False) -> None:
    click.echo(_words(message), err=err)


class RegisteredChoice(click.Choice):
    """The names in a registry as it is when the option is shown or checked, not when this module was
    imported, so a format registered later is offered too."""

    def __init__(self, registry: dict[str, Any]) -> None:
        self.registry = registry
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.registry)


class LiveHelpOption(click.Option):
    """An option whose help text is written when shown (from the registries as they are then)."""

    def __init__(self, *args: Any, describe: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe = describe

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.describe()
        return super().get_help_record(ctx)


@click.command(help=_l("Compliance report per standard over clocks whose start lies in [FROM, TO). Dates are "
                       "midnight in each site's own timezone; RFC 3339 timestamps are instants. Default: the last "
                       "28 days."))
@click.option("--from", "start", metavar="DATE|TIMESTAMP", help=_l("First day or instant (inclusive)."))
@click.option("--to", "end", metavar="DATE|TIMESTAMP", help=_l("Day or instant the report stops before (exclusive)."))
@click.option("--site", "sites", multiple=True, help=_l("Only these sites (repeatable or comma-separated)."))
@click.option("--standard", "standards", multiple=True,
              help=_l("Only these standards (repeatable or comma-separated)."))
@click.option("--group-by", default="", metavar="KEYS", cls=LiveHelpOption,
              describe=lambda: _l("Comma-separated: {keys} (calendar keys are site-local).").format(
                  keys=", ".join(GROUP_KEYS)))
@click.option("--format", "fmt", type=RegisteredChoice(FORMATS), default=None,
              help=_l("Output format; default taken from the -o file's extension, else json."))
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help=_l("File to write (default: standard output)."))
@click.option("--lang", "language", default=None, metavar="LANG",
              help=_l("Language of the CSV/XLSX/PDF words: en or zh-CN (default: from LC_ALL/LANG)."))
def report(start, end, sites, standards, group_by, fmt, output, language) -> None:
    by_extension = format_of_extension(Path(output).suffix.lstrip(".")) if output != "-" else None
    try:
        chosen = parse_format(fmt or (by_extension.name if by_extension else None))
        query = report_query(start, end, sites, standards, group_by)
        language = check_language(language) if language else environment_tag()
    except ReportParamError as exc:
        option = {"from": "--from", "to": "--to", "group_by": "--group-by"}.get(exc.param, f"--{exc.param}")
        raise click.BadParameter(translator(environment_tag())(exc.message), param_hint=option) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lang") from None
    if output == "-" and chosen.binary and sys.stdout.isatty():
        raise click.UsageError(f"{chosen.name} is binary: give -o FILE (or redirect standard output)")
    started = time.monotonic()
    document = _compliance(query, chosen.daily)
    payload = chosen.render(document, language)
    if output == "-":
        # text ends with a newline (JSON has none of its own); binary goes out as it is
        sys.stdout.buffer.write(payload + (b"\n" if not chosen.binary and not payload.endswith(b"\n") else b""))
        sys.stdout.buffer.flush()
        where = _words(msg("standard output"))
    else:
        Path(output).write_bytes(payload)
        where = output
    clocks = sum(entry.total.counts.clocks for entry in document.standards)
    count = len(document.standards)
    sites = ", ".join(s.id for s in document.sites) or _words(msg("none"))
    standards = msg("{n} standard", n=1) if count == 1 else msg("{n} standards", n=count)
    _say(msg("{standards}, {clocks} judged clocks, sites {sites}; audit-chain head {head}", standards=standards,
             clocks=clocks, sites=sites, head=document.chain_head), err=True)
    _say(msg("wrote {format} ({size} bytes) to {where} in {seconds}s", format=chosen.name, size=f"{len(payload):,}",
             where=where, seconds=f"{time.monotonic() - started:.2f}"), err=True)


@with_database(runtime=True, migrate=False)
def _compliance(runtime, query, daily: bool):
    """The report's document (only after its parameters were found good: no database for a typo)."""
    from monitor.reports.compliance import build_report, site_namer

    # which database, said before the first read of it: a wrong URL fails next, and this line names it
    _say(msg("compliance report {start} to {end} from {database}…", start=format_bound(query.start),
             end=format_bound(query.end), database=runtime.db.shown_url), err=True)
    runtime.registry.reload()  # the versions stored, as the running service has them
    try:
        return build_report(runtime.db, runtime.registry.current, query, site_namer(runtime.config), daily=daily)
    except ReportParamError as exc:
        raise click.BadParameter(translator(environment_tag())(exc.message), param_hint=f"--{exc.param}") from None


@click.group(help=_l("The tamper-evident audit trail."))
def audit() -> None:
    pass


def _chain_head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value):
        raise click.BadParameter(_words(msg("a chain head is 64 lowercase hex digits")), param_hint="--head")
    return value


@audit.command("verify", help=_l("Re-hash every event, device status, standards version, alert action and "
                                 "re-judgement against the hash chain, then derive every clock and alert row again "
                                 "from the chained rows. Exit 0 when intact, 1 when broken (the first difference is "
                                 "printed)."))
@click.option("--json", "as_json", is_flag=True,
              help=_l("Print the result as JSON: {ok, records, head, first_broken}."))
@click.option("--head", "expect_head", default=None, metavar="HASH", callback=_chain_head,
              help=_l("A chain head a report was built from: also check the chain still contains it."))
@with_database(runtime=True, migrate=False)
def verify(runtime, as_json: bool, expect_head: str | None) -> None:
    from monitor import verification

    started = time.monotonic()
    shown = {"at": 0.0}

    def progress(what: str, checked: int, total: int) -> None:  # called once per few thousand rows
        if time.monotonic() - shown["at"] >= 2 or checked >= total:
            shown["at"] = time.monotonic()
            _say(msg("checked {checked} of {total} {what}…", checked=f"{checked:,}", total=f"{total:,}",
                     what=PROGRESS_WORDS.get(what, what)), err=True)

    result = verification.verify(runtime.db, skew=runtime.config.engine.clock_skew_tolerance, progress=progress,
                                 expect_head=expect_head)
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(json.dumps(result.to_json(_words), ensure_ascii=False))
    elif result.ok:
        _say(msg("ok: {records} records, head {head}", records=result.records, head=result.head))
    else:
        broken = result.broken or {}
        seq = broken.get("seq")
        _say(msg("broken: {records} records checked, head {head}", records=result.records, head=result.head))
        if broken.get("kind") in ("clock", "alert"):  # a derived row differs from what the chain gives
            _say(msg("first difference ({kind}): {reason}", kind=broken.get("kind"), reason=broken.get("reason")))
        else:
            where = msg("link {seq}", seq=seq) if seq is not None else msg("outside the chain")
            _say(msg("first broken link: {where} ({kind}): {reason}", where=where, kind=broken.get("kind"),
                     reason=broken.get("reason")))
    _say(msg("verified in {seconds}s", seconds=f"{elapsed:.2f}"), err=True)
    sys.exit(0 if result.ok else 1)
