"""Every word of the report files, in one place and in the report's language (SPEC §6.1): headings,
titles, definitions, chart labels and how figures read as text. The PDF and the spreadsheet use it
(the spreadsheet keeps numbers as numbers); the CSV's English headings stay the field names, for tools.

``Wording(language)`` is built once per rendering; each text is a message id (monitor.core.messages)
translated from the gettext catalogue, so ``pybabel extract`` finds them all here.
"""
from __future__ import annotations

from typing import Any

from monitor.core.messages import Message, msg
from monitor.i18n import translator
from monitor.reports.document import DURATION_FIELDS, StandardReport
from monitor.reports.groups import GROUP_KEYS

NOTHING = "–"
DEFINITIONS = msg(
    "Clocks count when their start lies in [from, to); a date bound is midnight in each site's own timezone. "
    "compliance = met / (met + missed + breached), where breached means still open past its deadline. "
    "Clocks with a data gap (a device of the site was offline when the deadline passed) are counted apart "
    "and left out of compliance and durations. Durations are over stopped clocks (met and missed); "
    "percentiles are nearest-rank (the value at rank ceil(p x n))."
)
#: Column headings of the figures and the summary's own columns (the group keys' are in their registry).
HEADINGS = {
    "met": msg("Met"), "missed": msg("Missed"), "breached": msg("Breached (open)"), "cancelled": msg("Cancelled"),
    "data_gap": msg("Data gap"), "compliance": msg("Compliance"), "mean_s": msg("Mean (s)"),
    "p50_s": msg("p50 (s)"), "p90_s": msg("p90 (s)"), "p95_s": msg("p95 (s)"), "max_s": msg("Max (s)"),
    "goal_met": msg("Goal met"), "period": msg("Period"), "goal_ratio": msg("Goal share"),
    "standard": msg("Standard"), "name": msg("Name"), "file": msg("File"),
    "version_in_force": msg("Version in force"), "versions": msg("Versions in the clocks"), "goal": msg("Goal"),
    "goal_met_total": msg("Goal met (whole period)"), "periods_goal_met": msg("Goal periods met"),
    "sheet": msg("Sheet"), "compliance_total": msg("Compliance (whole period)"),
}
_PERIODS = {"day": msg("day"), "week": msg("week"), "month": msg("month")}


class Wording:
    """The report's words in one language (``en``, ``zh-CN``)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._t = translator(language)

    def __call__(self, message: Message | str) -> str:
        return self._t(message)

    def heading(self, field: str) -> str:
        if field in GROUP_KEYS:
            return self(GROUP_KEYS[field].label)
        return self(HEADINGS[field]) if field in HEADINGS else field

    def csv_heading(self, field: str) -> str:
        """English: the field name as the JSON has it (tools read the CSV); other languages: the heading."""
        return field if self.language == "en" else self.heading(field)

    @property
    def definitions(self) -> str:
        return self(DEFINITIONS)

    def percent(self, value: float | None) -> str:
        return NOTHING if value is None else f"{value * 100:.1f}%"

    @staticmethod
    def seconds(value: float | None) -> str:
        if value is None:
            return NOTHING
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"

    def yes_no(self, value: bool | None) -> str:
        return NOTHING if value is None else self(msg("yes") if value else msg("no"))

    def cell_text(self, field: str, value: Any) -> str:
        """A group key's value or a figure as it reads in a table cell."""
        if field in GROUP_KEYS:
            return GROUP_KEYS[field].text(value, self)
        if field == "compliance" or field == "goal_ratio":
            return self.percent(value)
        if field in DURATION_FIELDS:
            return self.seconds(value)
        if field == "goal_met":
            return self.yes_no(value)
        return NOTHING if value is None else str(value)

    def period_word(self, per: str | None) -> str:
        return self(_PERIODS[per]) if per in _PERIODS else (per or self(msg("none")))

    @staticmethod
    def versions_text(entry: StandardReport) -> str:
        return ", ".join(str(v) for v in entry.versions) or NOTHING

    def goal_text(self, entry: StandardReport) -> str:
        if entry.goal_ratio is None:
            return self(msg("not in force"))
        return self(msg("{share} per {period}", share=self.percent(entry.goal_ratio), period=_PERIODS[entry.goal_per]))

    def periods_text(self, entry: StandardReport) -> str:
        judged = [p for p in entry.periods if p.goal_met is not None]
        if not judged:
            return NOTHING
        return self(msg("{met} of {judged}", met=sum(1 for p in judged if p.goal_met), judged=len(judged)))

    def standard_name(self, entry: StandardReport) -> str:
        return entry.name or self(msg("no longer in force"))
