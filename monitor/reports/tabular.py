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
from monitor.core.messages import msg
from monitor.reports.wording import Wording

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


def to_csv(document: ComplianceReport, language: str = "en") -> str:
    """Plain numbers (compliance 0..1, seconds), empty for null, versions joined by ``;``; headings in
    ``language`` (English: the field names)."""
    words = Wording(language)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = document.columns
    writer.writerow([words.csv_heading(c) for c in (*CSV_LEAD, *columns)])
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


def _write_table(sheet, top: int, columns: list[str], rows: tuple[Row, ...] | tuple[Period, ...],
                 words: Wording) -> int:
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=top, column=index, value=words.heading(column))
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


def to_xlsx(document: ComplianceReport, language: str = "en") -> bytes:
    words = Wording(language)
    book = Workbook()
    summary = book.active
    summary.title = words(msg("Summary"))
    taken = {summary.title.lower()}
    summary["A1"] = words(msg("Service-standard compliance report"))
    summary["A1"].font = _TITLE
    sites = ", ".join(f"{s.id} ({s.name}, {s.timezone})" for s in document.sites) or words(msg("none"))
    facts = [(msg("From"), document.start), (msg("To (exclusive)"), document.end),
             (msg("Group by"), ", ".join(words.heading(k) for k in document.group_by) or words(msg("none"))),
             (msg("Sites"), sites), (msg("Audit chain head"), document.chain_head),
             (msg("Generated at"), document.generated_at), (msg("Definitions"), words.definitions)]
    for offset, (label, value) in enumerate(facts, start=3):
        summary.cell(row=offset, column=1, value=words(label)).font = _BOLD
        summary.cell(row=offset, column=2, value=value)
    top = 3 + len(facts) + 1
    columns = ["standard", "name", "version_in_force", "versions", "goal", "met", "missed", "breached", "cancelled",
               "data_gap", "compliance", "goal_met", "periods_goal_met", "sheet"]
    for index, column in enumerate(columns, start=1):
        cell = summary.cell(row=top, column=index, value=words.heading("goal_met_total" if column == "goal_met" else column))
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for offset, entry in enumerate(document.standards, start=1):
        title = sheet_title(entry.standard, taken)
        values = {"standard": entry.standard, "name": entry.name, "version_in_force": entry.version_in_force,
                  "versions": words.versions_text(entry), "goal": words.goal_text(entry), **entry.total.to_json(),
                  "periods_goal_met": words.periods_text(entry), "sheet": title}
        for index, column in enumerate(columns, start=1):
            cell = summary.cell(row=top + offset, column=index, value=values.get(column))
            fmt = _number_format(column)
            if fmt:
                cell.number_format = fmt
        _standard_sheet(book.create_sheet(title), entry, document, words)
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


def _standard_sheet(sheet, entry: StandardReport, document: ComplianceReport, words: Wording) -> None:
    sheet["A1"] = f"{entry.standard} — {words.standard_name(entry)}"
    sheet["A1"].font = _TITLE
    facts = [(msg("Period"), words(msg("{start} to {end} (exclusive)", start=document.start, end=document.end))),
             (msg("Goal"), words.goal_text(entry)), (msg("Version in force"), entry.version_in_force),
             (msg("Versions in the clocks"), words.versions_text(entry)), (msg("Audit chain head"), document.chain_head)]
    for offset, (label, value) in enumerate(facts, start=2):
        sheet.cell(row=offset, column=1, value=words(label)).font = _BOLD
        sheet.cell(row=offset, column=2, value=value)
    top = 2 + len(facts) + 1
    columns = document.columns
    end = _write_table(sheet, top, columns, entry.rows, words)
    if not entry.rows:
        sheet.cell(row=end, column=1, value=words(msg("No clocks started in the period.")))
        end += 1
    sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    period_top = end + 1
    sheet.cell(row=period_top, column=1,
               value=words(msg("Goal periods ({period})", period=words.period_word(entry.goal_per)))).font = _BOLD
    _write_table(sheet, period_top + 1, list(PERIOD_FIELDS), entry.periods, words)
    _widths(sheet, {i: 13 for i in range(1, len(columns) + 1)})
    sheet.column_dimensions["A"].width = 22
