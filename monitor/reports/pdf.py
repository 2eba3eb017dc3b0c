"""The PDF report: a title page an auditor can sign against (period, sites, standards versions in
force, audit-chain head), then per standard a table, its goal periods and compliance by day."""
from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from monitor.reports.document import COUNT_FIELDS, ComplianceReport, StandardReport
from monitor.reports.groups import GROUP_KEYS
from monitor.reports.wording import (
    DEFINITIONS,
    NOTHING,
    cell_text,
    goal_text,
    percent,
    periods_text,
    standard_name,
    versions_text,
)

PAGE = landscape(A4)
CJK_FONT = "STSong-Light"  # a standard CID font: Chinese site and standard names without embedding a font
_MAX_CHART_DAYS = 400
_TABLE_SLICE = 250
_FIGURE_WIDTHS = {"goal_met": 15 * mm, "compliance": 18 * mm}
_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9.5, leading=12)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=8, leading=9.5)
_HASH = ParagraphStyle("hash", parent=_BODY, fontName="Courier", fontSize=10)
_TABLE_STYLE = TableStyle([
    ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE5F0")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#8896A8")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
])
_HEADERS = {"met": "met", "missed": "missed", "breached": "breached", "cancelled": "cancelled",
            "data_gap": "data gap", "compliance": "compliance", "mean_s": "mean s", "p50_s": "p50 s",
            "p90_s": "p90 s", "p95_s": "p95 s", "max_s": "max s", "goal_met": "goal met"}


def _font_ready() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _helvetica_has(char: str) -> bool:
    # The standard fonts speak WinAnsi (cp1252): dashes and ellipses yes, 北京 no.
    try:
        char.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def _text(value: Any) -> str:
    """Escaped paragraph markup; runs Helvetica cannot show switch to the CJK font."""
    out, run = [], []
    for char in str(value):
        if _helvetica_has(char):
            if run:
                out.append(f'<font face="{CJK_FONT}">{escape("".join(run))}</font>')
                run = []
            out.append(escape(char))
        else:
            run.append(char)
    if run:
        out.append(f'<font face="{CJK_FONT}">{escape("".join(run))}</font>')
    return "".join(out)


def _p(value: Any, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(_text(value), style)


def _cell(value: str) -> str | Paragraph:
    """Plain strings draw fast; only text Helvetica cannot show needs a paragraph (and its font)."""
    return value if all(_helvetica_has(char) for char in value) else _p(value, _CELL)


def _width(column: str) -> float:
    return GROUP_KEYS[column].width_mm * mm if column in GROUP_KEYS else _FIGURE_WIDTHS.get(column, 17 * mm)


def to_pdf(document: ComplianceReport) -> bytes:
    _font_ready()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"Compliance report {document.start} to {document.end}",
                            author="smartmon", subject=f"audit chain head {document.chain_head}")
    story = _title_page(document)
    # A standard without clocks in the period (e.g. another site's, in a site-filtered report) gets
    # one line together with the others, not a page each saying so.
    idle = [entry for entry in document.standards if not any(entry.total.value(f) for f in COUNT_FIELDS)]
    if idle:
        story.append(_p("No clocks started in the period: " + "; ".join(
            f"{entry.standard} — {standard_name(entry)}" for entry in idle) + "."))
    for entry in document.standards:
        if entry not in idle:
            story += [PageBreak(), *_standard_section(entry, document)]
    footer = f"smartmon compliance report · {document.start} to {document.end} · chain head {document.chain_head[:16]}…"

    def decorate(canvas, doc_template) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 8 * mm, footer)
        canvas.drawRightString(PAGE[0] - 15 * mm, 8 * mm, f"page {doc_template.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def _title_page(document: ComplianceReport) -> list:
    site_lines = [f"{s.id} — {s.name} ({s.timezone})" for s in document.sites] or ["no clocks started in the period"]
    story: list = [
        _p("Service-standard compliance report", _STYLES["Title"]),
        _p(f"Period: {document.start} to {document.end} (start in [from, to))", _STYLES["Heading2"]),
        _p("Sites: " + "; ".join(site_lines)),
        _p("Grouped by: " + (", ".join(document.group_by) or "nothing (one row per standard)")),
        _p(f"Generated at {document.generated_at}"),
        Spacer(1, 4 * mm),
        _p("Audit-chain head this report was built from:", _STYLES["Heading3"]),
        Paragraph(document.chain_head, _HASH),
        _p("Check it any time with `python -m monitor audit verify` or GET /api/v1/audit/verify: a head "
           "that differs later means records were appended since; a broken chain means records were altered.",
           _SMALL),
        Spacer(1, 4 * mm),
        _p("Standards versions in force", _STYLES["Heading3"]),
    ]
    header = ["standard", "name", "file", "version in force", "versions in the clocks", "goal",
              "compliance (whole period)", "goal periods met"]
    rows = [[_p(h, _CELL) for h in header]]
    for entry in document.standards:
        rows.append([_p(entry.standard, _CELL), _p(standard_name(entry), _CELL),
                     _p(entry.file or NOTHING, _CELL), _p(entry.version_in_force or NOTHING, _CELL),
                     _p(versions_text(entry), _CELL), _p(goal_text(entry), _CELL),
                     _p(percent(entry.total.counts.compliance), _CELL), _p(periods_text(entry), _CELL)])
    widths = [45 * mm, 60 * mm, 30 * mm, 20 * mm, 25 * mm, 25 * mm, 25 * mm, 22 * mm]
    story += [Table(rows, colWidths=widths, repeatRows=1, style=_TABLE_STYLE), Spacer(1, 4 * mm),
              _p(DEFINITIONS, _SMALL)]
    return story


def _standard_section(entry: StandardReport, document: ComplianceReport) -> list:
    total = entry.total
    counts = ", ".join(f"{_HEADERS[f]} {total.value(f)}" for f in COUNT_FIELDS)
    story: list = [
        _p(f"{entry.standard} — {standard_name(entry)}", _STYLES["Heading2"]),
        _p(f"Goal {goal_text(entry)} · version in force {entry.version_in_force or NOTHING} · versions in the "
           f"clocks {versions_text(entry)} · whole period: {counts}, compliance {percent(total.counts.compliance)}"),
        Spacer(1, 3 * mm),
    ]
    columns = document.columns
    header = [_HEADERS.get(c, c) for c in columns]
    body = [[_cell(cell_text(c, row.value(c))) for c in columns] for row in entry.rows]
    # Fixed widths spare measuring every cell; long tables go in slices, which reportlab splits
    # across pages far faster than one huge table.
    widths = [_width(c) for c in columns]
    style = TableStyle(_TABLE_STYLE.getCommands())
    if document.group_by:
        style.add("ALIGN", (0, 1), (len(document.group_by) - 1, -1), "LEFT")
    for first in range(0, len(body), _TABLE_SLICE):
        story.append(Table([header, *body[first:first + _TABLE_SLICE]], colWidths=widths, repeatRows=1,
                           style=style, hAlign="LEFT"))
    story.append(Spacer(1, 4 * mm))
    story.append(KeepTogether([_p("Compliance by day (site-local days)", _STYLES["Heading3"]), _chart(entry)]))
    if entry.periods:
        period_rows = [["period", *[_HEADERS[f] for f in COUNT_FIELDS], "compliance", "goal met"]]
        period_rows += [[p.period, *[str(p.value(f)) for f in COUNT_FIELDS], percent(p.counts.compliance),
                         cell_text("goal_met", p.goal_met)] for p in entry.periods]
        period_style = TableStyle(_TABLE_STYLE.getCommands())
        period_style.add("ALIGN", (0, 1), (0, -1), "LEFT")
        story += [Spacer(1, 3 * mm), _p(f"Goal per {entry.goal_per}: {periods_text(entry)} periods met",
                                          _STYLES["Heading3"]),
                  Table(period_rows, repeatRows=1, style=period_style, hAlign="LEFT")]
    return story


def _series(entry: StandardReport) -> tuple[list[str], list[float | None]]:
    """Every day from the first to the last with clocks, so gaps show as gaps, not as neighbours."""
    found = {d.period: d.counts.compliance for d in entry.daily or ()}
    if not found:
        return [], []
    first, last = date.fromisoformat(min(found)), date.fromisoformat(max(found))
    if (last - first).days >= _MAX_CHART_DAYS:
        days = sorted(found)
    else:
        days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return days, [None if found.get(d) is None else found[d] * 100 for d in days]


def _chart(entry: StandardReport) -> Drawing:
    width, height = PAGE[0] - 30 * mm, 62 * mm
    drawing = Drawing(width, height)
    days, values = _series(entry)
    if not any(v is not None for v in values):
        drawing.add(String(10, height / 2, "No decided clocks in the period: nothing to chart.", fontName="Helvetica",
                           fontSize=9))
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 36, 28, width - 50, height - 40
    chart.data = [values]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labelTextFormat = "%d%%"
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#4C78A8")
    chart.bars[0].strokeColor = None
    step = max(1, len(days) // 20)  # at most ~20 readable date labels
    chart.categoryAxis.categoryNames = [d[5:] if i % step == 0 else "" for i, d in enumerate(days)]
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 45 if len(days) > 10 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(days) > 10 else "n"
    chart.barSpacing = 0.5
    # A 0% bar and a day without decided clocks would both be invisible: shade the latter.
    slot = chart.width / len(days)
    for index, value in enumerate(values):
        if value is None:
            drawing.add(Rect(chart.x + index * slot, chart.y, slot, chart.height, fillColor=colors.HexColor("#EEEEEE"),
                             strokeColor=None))
    if any(v is None for v in values):
        drawing.add(String(chart.x, height - 6, "grey: no decided clocks that day", fontName="Helvetica", fontSize=7,
                           fillColor=colors.grey))
    drawing.add(chart)
    if entry.goal_ratio is not None:
        y = chart.y + chart.height * entry.goal_ratio
        drawing.add(Line(chart.x, y, chart.x + chart.width, y, strokeColor=colors.HexColor("#E45756"),
                         strokeWidth=1, strokeDashArray=[4, 2]))
        drawing.add(String(chart.x + chart.width - 2, y + 2, f"goal {percent(entry.goal_ratio)}",
                           fontName="Helvetica", fontSize=7, fillColor=colors.HexColor("#E45756"), textAnchor="end"))
    return drawing
