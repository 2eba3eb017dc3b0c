"""Render a compliance document (monitor.reports.compliance) as JSON, CSV, XLSX or PDF bytes."""
from __future__ import annotations

import json
import re
from typing import Any

from monitor.reports.compliance import ROW_FIELDS

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

COUNT_FIELDS = ("met", "missed", "breached", "cancelled", "data_gap")
DURATION_FIELDS = ("mean_s", "p50_s", "p90_s", "p95_s", "max_s")
DEFINITIONS = (
    "Clocks count when their start lies in [from, to); a date bound is midnight in each site's own timezone. "
    "compliance = met / (met + missed + breached), where breached means still open past its deadline. "
    "Clocks with a data gap (a device of the site was offline when the deadline passed) are counted apart "
    "and left out of compliance and durations. Durations are over stopped clocks (met and missed); "
    "percentiles are nearest-rank (the value at rank ceil(p x n))."
)


def render(document: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    if fmt == "csv":
        from monitor.reports.tabular import to_csv

        return to_csv(document).encode("utf-8")
    if fmt == "xlsx":
        from monitor.reports.tabular import to_xlsx

        return to_xlsx(document)
    if fmt == "pdf":
        from monitor.reports.pdf import to_pdf

        return to_pdf(document)
    raise ValueError(f"unknown report format {fmt!r}")


def filename(document: dict[str, Any], fmt: str) -> str:
    """``compliance_2026-11-01_2026-12-01.pdf``; instants lose their colons for Windows' sake."""
    def part(bound: str) -> str:
        return re.sub(r"[^0-9A-Za-z-]", "", bound)

    return f"compliance_{part(document['from'])}_{part(document['to'])}.{fmt}"


def table_columns(document: dict[str, Any]) -> list[str]:
    """Column order for one standard's rows: the group keys, then every figure."""
    return [*document.get("group_by", []), *ROW_FIELDS]


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def cell_text(field: str, value: Any) -> str:
    """How a value reads in the PDF and on screens (the XLSX keeps numbers as numbers)."""
    if field == "compliance" or field == "goal_ratio":
        return percent(value)
    if field in DURATION_FIELDS:
        return seconds(value)
    if field == "goal_met":
        return yes_no(value)
    if value is None:
        return "(none)" if field == "staff" else "–"
    if field == "hour":
        return f"{int(value):02d}:00"
    return str(value)


def versions_text(entry: dict[str, Any]) -> str:
    return ", ".join(str(v) for v in entry["versions"]) or "–"


def goal_text(entry: dict[str, Any]) -> str:
    if entry["goal_ratio"] is None:
        return "not in force"
    return f"{percent(entry['goal_ratio'])} per {entry['goal_per']}"


def periods_text(entry: dict[str, Any]) -> str:
    judged = [p for p in entry["periods"] if p["goal_met"] is not None]
    if not judged:
        return "–"
    return f"{sum(1 for p in judged if p['goal_met'])} of {len(judged)}"
