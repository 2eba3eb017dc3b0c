"""The ``group_by`` keys (SPEC §7), each in one entry: its heading, its SQL on each database and its cell text.

Everything that offers or shows a key reads this registry: parameter checks, the aggregation, the
XLSX and PDF tables, the web form, the CLI help and the OpenAPI document. A new key is one entry here.

Calendar keys come from ``start_local`` (the start in the clock's own site timezone,
``YYYY-MM-DD HH:MM:SS``), so a day or a week is the site's day or week:

* ``day`` ``2026-11-25``, ``month`` ``2026-11``, ``hour`` the hour of the local day (0–23; with
  ``day`` too it becomes a time series);
* ``week`` the ISO 8601 week, labelled ``2026-W48`` (weeks start on Monday; the ISO year is the
  year of the week's Thursday, so 2027-01-01 lies in ``2026-W53``);
* ``site``, ``staff`` (the start event's staff; null when the event named nobody).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Date, Integer, cast, func, literal_column
from sqlalchemy.sql import ColumnElement

from monitor.core.messages import Message, msg
from monitor.store.models import ClockRow

Expression = Callable[[str], ColumnElement]  # dialect name ("sqlite", "postgresql") → SQL


@dataclass(frozen=True)
class GroupKey:
    name: str
    label: Message  # column heading in the spreadsheet and the PDF, translated by reports/wording.py
    expression: Expression  # what the clocks are grouped on
    # Turns the grouped value into the answer's value, once per group rather than once per clock.
    answer: Callable[[ColumnElement, str], ColumnElement] | None = None
    cell: Callable[[Any], str] = str  # a value's text in the PDF table
    missing: Message | str = "–"  # the text of a null value
    width_mm: float = 17.0  # column width in the PDF table

    def answered(self, grouped: ColumnElement, dialect: str) -> ColumnElement:
        return self.answer(grouped, dialect) if self.answer else grouped

    def text(self, value: Any, words: Callable[[Message | str], str] = str) -> str:
        return words(self.missing) if value is None else self.cell(value)


def _local_date(dialect: str) -> ColumnElement:
    text_date = func.substr(ClockRow.start_local, 1, 10)
    return cast(text_date, Date) if dialect == "postgresql" else text_date


def _iso_week(dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return func.to_char(_local_date(dialect), literal_column("'IYYY-\"W\"IW'"))
    # SQLite: group on the ISO week's Thursday (the next-or-same Sunday, three days back), one
    # date() per clock; _week_label turns it into 2026-W48 once per group, not once per clock.
    return func.date(func.substr(ClockRow.start_local, 1, 10), "weekday 0", "-3 days")


def _week_label(thursday: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return thursday
    # The Thursday's year is the ISO year, and (its day of the year − 1) // 7 + 1 the ISO week.
    number = (cast(func.strftime("%j", thursday), Integer) - 1) // 7 + 1
    return func.printf("%s-W%02d", func.strftime("%Y", thursday), number)


GROUP_KEYS: dict[str, GroupKey] = {key.name: key for key in (
    GroupKey("site", msg("Site"), lambda dialect: ClockRow.site, width_mm=24),
    GroupKey("day", msg("Day"), lambda dialect: func.substr(ClockRow.start_local, 1, 10), width_mm=20),
    GroupKey("week", msg("Week"), _iso_week, answer=_week_label, width_mm=17),
    GroupKey("month", msg("Month"), lambda dialect: func.substr(ClockRow.start_local, 1, 7), width_mm=15),
    GroupKey("hour", msg("Hour"), lambda dialect: cast(func.substr(ClockRow.start_local, 12, 2), Integer),
             cell=lambda hour: f"{int(hour):02d}:00", width_mm=12),
    GroupKey("staff", msg("Staff"), lambda dialect: ClockRow.staff, missing=msg("(none)"), width_mm=28),
)}
