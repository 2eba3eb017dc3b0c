"""How report figures read as text, shared by the PDF and the spreadsheet (which keeps numbers as numbers)."""
from __future__ import annotations

from typing import Any

from monitor.reports.document import DURATION_FIELDS, StandardReport
from monitor.reports.groups import GROUP_KEYS

NOTHING = "–"
DEFINITIONS = (
    "Clocks count when their start lies in [from, to); a date bound is midnight in each site's own timezone. "
    "compliance = met / (met + missed + breached), where breached means still open past its deadline. "
    "Clocks with a data gap (a device of the site was offline when the deadline passed) are counted apart "
    "and left out of compliance and durations. Durations are over stopped clocks (met and missed); "
    "percentiles are nearest-rank (the value at rank ceil(p x n))."
)


def percent(value: float | None) -> str:
    return NOTHING if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return NOTHING
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def yes_no(value: bool | None) -> str:
    return NOTHING if value is None else ("yes" if value else "no")


def cell_text(field: str, value: Any) -> str:
    """A group key's value or a figure as it reads in a table cell."""
    if field in GROUP_KEYS:
        return GROUP_KEYS[field].text(value)
    if field == "compliance" or field == "goal_ratio":
        return percent(value)
    if field in DURATION_FIELDS:
        return seconds(value)
    if field == "goal_met":
        return yes_no(value)
    return NOTHING if value is None else str(value)


def versions_text(entry: StandardReport) -> str:
    return ", ".join(str(v) for v in entry.versions) or NOTHING


def goal_text(entry: StandardReport) -> str:
    if entry.goal_ratio is None:
        return "not in force"
    return f"{percent(entry.goal_ratio)} per {entry.goal_per}"


def periods_text(entry: StandardReport) -> str:
    judged = [p for p in entry.periods if p.goal_met is not None]
    if not judged:
        return NOTHING
    return f"{sum(1 for p in judged if p.goal_met)} of {len(judged)}"


def standard_name(entry: StandardReport) -> str:
    return entry.name or "no longer in force"
