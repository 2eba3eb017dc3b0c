"""CSV (one row per standard × group, header first) and XLSX (a Summary sheet + one sheet per standard)."""
from __future__ import annotations

import csv
import io
import re
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from monitor.reports.document import (
    COUNT_FIELDS,
    DURATION_FIELDS,
    PERIOD_FIELDS,
    ComplianceReport,
    Period,
    Row,
    StandardReport,
)
from monitor.reports.groups import GROUP_KEYS
from monitor.reports.wording import DEFINITIONS, goal_text, periods_text, standard_name, versions_text

CSV_LEAD = ("standard", "versions", "goal_ratio")


#: What makes a spreadsheet read a CSV cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        # A staff name like =HYPERLINK(…) must stay text: OWASP's neutralisation is a leading quote.
        return "'" + value
    return value


def to_csv(document: ComplianceReport) -> str:
    """Plain numbers (compliance 0..1, seconds), empty for null, versions joined by ``;``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = document.columns
    writer.writerow([*CSV_LEAD, *columns])
    for entry in document.standards:
        lead = [_csv_value(entry.standard), ";".join(str(v) for v in entry.versions), _csv_value(entry.goal_ratio)]
        for row in entry.rows:
            writer.writerow([*lead, *(_csv_value(row.value(c)) for c in columns)])
    return out.getvalue()


# -- XLSX --------------------------------------------------------------------------------------
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_HEADERS = {"met": "Met", "missed": "Missed", "breached": "Breached (open)", "cancelled": "Cancelled",
            "data_gap": "Data gap", "compliance": "Compliance", "mean_s": "Mean (s)", "p50_s": "p50 (s)",
            "p90_s": "p90 (s)", "p95_s": "p95 (s)", "max_s": "Max (s)", "goal_met": "Goal met", "period": "Period"}


def _header(column: str) -> str:
    return GROUP_KEYS[column].label if column in GROUP_KEYS else _HEADERS.get(column, column)


def sheet_title(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, no leading/trailing quote, unique
    regardless of case."""
    base = _FORBIDDEN.sub("_", name).strip("'") or "standard"
    title = base[:31]
    counter = 2
    while title.lower() in taken:
        suffix = f"~{counter}"
        title = base[:31 - len(suffix)] + suffix
        counter += 1
    taken.add(title.lower())
    return title


def _number_format(field: str) -> str | None:
    if field in ("compliance", "goal_ratio"):
        return "0.0%"
    if field in DURATION_FIELDS:
        return "0.0"
    if field in COUNT_FIELDS:
        return "0"
    return None


def _write_table(sheet, top: int, columns: list[str], rows: tuple[Row, ...] | tuple[Period, ...]) -> int:
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=top, column=index, value=_header(column))
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for offset, row in enumerate(rows, start=1):
        for index, column in enumerate(columns, start=1):
            cell = sheet.cell(row=top + offset, column=index, value=row.value(column))
            fmt = _number_format(column)
            if fmt:
                cell.number_format = fmt
    return top + len(rows) + 1


def _widths(sheet, widths: dict[int, int]) -> None:
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = width


def to_xlsx(document: ComplianceReport) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    taken = {"summary"}
    summary["A1"] = "Service-standard compliance report"
    summary["A1"].font = _TITLE
    sites = ", ".join(f"{s.id} ({s.name}, {s.timezone})" for s in document.sites) or "none"
    facts = [("From", document.start), ("To (exclusive)", document.end),
             ("Group by", ", ".join(document.group_by) or "none"), ("Sites", sites),
             ("Audit chain head", document.chain_head), ("Generated at", document.generated_at),
             ("Definitions", DEFINITIONS)]
    for offset, (label, value) in enumerate(facts, start=3):
        summary.cell(row=offset, column=1, value=label).font = _BOLD
        summary.cell(row=offset, column=2, value=value)
    top = 3 + len(facts) + 1
    columns = ["standard", "name", "version_in_force", "versions", "goal", "met", "missed", "breached", "cancelled",
               "data_gap", "compliance", "goal_met", "periods_goal_met", "sheet"]
    headers = {**_HEADERS, "standard": "Standard", "name": "Name", "version_in_force": "Version in force",
               "versions": "Versions in the clocks", "goal": "Goal", "goal_met": "Goal met (whole period)",
               "periods_goal_met": "Goal periods met", "sheet": "Sheet"}
    for index, column in enumerate(columns, start=1):
        cell = summary.cell(row=top, column=index, value=headers[column])
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for offset, entry in enumerate(document.standards, start=1):
        title = sheet_title(entry.standard, taken)
        values = {"standard": entry.standard, "name": entry.name, "version_in_force": entry.version_in_force,
                  "versions": versions_text(entry), "goal": goal_text(entry), **entry.total.to_json(),
                  "periods_goal_met": periods_text(entry), "sheet": title}
        for index, column in enumerate(columns, start=1):
            cell = summary.cell(row=top + offset, column=index, value=values.get(column))
            fmt = _number_format(column)
            if fmt:
                cell.number_format = fmt
        _standard_sheet(book.create_sheet(title), entry, document)
    summary.freeze_panes = summary.cell(row=top + 1, column=2)
    _widths(summary, {1: 22, 2: 30, 3: 10, 4: 12, 5: 16, **{i: 11 for i in range(6, 15)}})
    _text_not_formulas(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text_not_formulas(book: Workbook) -> None:
    """openpyxl stores any text starting with ``=`` as a formula; a report writes no formula, so every
    such cell (a staff name like ``=HYPERLINK(…)``) is made a plain string cell again."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _standard_sheet(sheet, entry: StandardReport, document: ComplianceReport) -> None:
    sheet["A1"] = f"{entry.standard} — {standard_name(entry)}"
    sheet["A1"].font = _TITLE
    facts = [("Period", f"{document.start} to {document.end} (exclusive)"), ("Goal", goal_text(entry)),
             ("Version in force", entry.version_in_force), ("Versions in the clocks", versions_text(entry)),
             ("Audit chain head", document.chain_head)]
    for offset, (label, value) in enumerate(facts, start=2):
        sheet.cell(row=offset, column=1, value=label).font = _BOLD
        sheet.cell(row=offset, column=2, value=value)
    top = 2 + len(facts) + 1
    columns = document.columns
    end = _write_table(sheet, top, columns, entry.rows)
    if not entry.rows:
        sheet.cell(row=end, column=1, value="No clocks started in the period.")
        end += 1
    sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    period_top = end + 1
    sheet.cell(row=period_top, column=1, value=f"Goal periods ({entry.goal_per or 'none'})").font = _BOLD
    _write_table(sheet, period_top + 1, list(PERIOD_FIELDS), entry.periods)
    _widths(sheet, {i: 13 for i in range(1, len(columns) + 1)})
    sheet.column_dimensions["A"].width = 22
