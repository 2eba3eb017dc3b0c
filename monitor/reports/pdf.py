"""The PDF report: a title page an auditor can sign against (period, sites, standards versions in
force, audit-chain head), then per standard a table, its goal periods and compliance by day."""
from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from monitor.core.messages import msg
from monitor.reports.document import COUNT_FIELDS, ComplianceReport, StandardReport
from monitor.reports.groups import GROUP_KEYS
from monitor.reports.wording import NOTHING, Wording

PAGE = landscape(A4)
#: A free CJK TrueType font, embedded as a subset so the archive reads the same in every viewer
#: (a non-embedded CID font shows as empty boxes in many). Debian's fonts-wqy-microhei (.ci/run
#: installs it); reportlab cannot embed the CFF outlines of Noto CJK's OpenType files.
CJK_FONT = "WenQuanYiMicroHei"
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
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

class MissingFontError(RuntimeError):
    pass


def cjk_font_file() -> Path:
    for path in CJK_FONT_FILES:
        if path.is_file():
            return path
    raise MissingFontError("no CJK font for the PDF report: install it with "
                           "'apt-get install fonts-wqy-microhei' (bash .ci/run does)")


def _font_ready() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(CJK_FONT, str(cjk_font_file()), subfontIndex=0))


def _font_for(text: str, latin: str = "Helvetica") -> str:
    return latin if all(_helvetica_has(char) for char in text) else CJK_FONT


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


def to_pdf(document: ComplianceReport, language: str = "en") -> bytes:
    _font_ready()
    words = Wording(language)
    out = io.BytesIO()
    period = words(msg("{start} to {end}", start=document.start, end=document.end))
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=words(msg("Compliance report {period}", period=period)),
                            author="smartmon", subject=words(msg("audit chain head {head}", head=document.chain_head)),
                            lang=language)
    story = _title_page(document, words)
    # A standard without clocks in the period (e.g. another site's, in a site-filtered report) gets
    # one line together with the others, not a page each saying so.
    idle = [entry for entry in document.standards if not any(entry.total.value(f) for f in COUNT_FIELDS)]
    if idle:
        story.append(_p(words(msg("No clocks started in the period: {standards}.", standards="; ".join(
            f"{entry.standard} — {words.standard_name(entry)}" for entry in idle)))))
    for entry in document.standards:
        if entry not in idle:
            story += [PageBreak(), *_standard_section(entry, document, words)]
    footer = words(msg("smartmon compliance report · {period} · chain head {head}…", period=period,
                       head=document.chain_head[:16]))

    def decorate(canvas, doc_template) -> None:
        page = words(msg("page {number}", number=doc_template.page))
        canvas.saveState()
        canvas.setFillColor(colors.grey)
        canvas.setFont(_font_for(footer), 7.5)
        canvas.drawString(15 * mm, 8 * mm, footer)
        canvas.setFont(_font_for(page), 7.5)
        canvas.drawRightString(PAGE[0] - 15 * mm, 8 * mm, page)
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def _title_page(document: ComplianceReport, words: Wording) -> list:
    site_lines = ([f"{s.id} — {s.name} ({s.timezone})" for s in document.sites]
                  or [words(msg("no clocks started in the period"))])
    grouped = ", ".join(words.heading(k) for k in document.group_by) or words(msg("nothing (one row per standard)"))
    story: list = [
        _p(words(msg("Service-standard compliance report")), _STYLES["Title"]),
        _p(words(msg("Period: {start} to {end} (start in [from, to))", start=document.start, end=document.end)),
           _STYLES["Heading2"]),
        _p(words(msg("Sites: {sites}", sites="; ".join(site_lines)))),
        _p(words(msg("Grouped by: {keys}", keys=grouped))),
        _p(words(msg("Generated at {time}", time=document.generated_at))),
        Spacer(1, 4 * mm),
        _p(words(msg("Audit-chain head this report was built from:")), _STYLES["Heading3"]),
        Paragraph(document.chain_head, _HASH),
        _p(words(msg("Check it any time with `python -m monitor audit verify` or GET /api/v1/audit/verify: a head "
                     "that differs later means records were appended since; a broken chain means records were "
                     "altered.")), _SMALL),
        Spacer(1, 4 * mm),
        _p(words(msg("Standards versions in force")), _STYLES["Heading3"]),
    ]
    header = ["standard", "name", "file", "version_in_force", "versions", "goal", "compliance_total",
              "periods_goal_met"]
    rows = [[_p(words.heading(h), _CELL) for h in header]]
    for entry in document.standards:
        rows.append([_p(entry.standard, _CELL), _p(words.standard_name(entry), _CELL),
                     _p(entry.file or NOTHING, _CELL), _p(entry.version_in_force or NOTHING, _CELL),
                     _p(words.versions_text(entry), _CELL), _p(words.goal_text(entry), _CELL),
                     _p(words.percent(entry.total.counts.compliance), _CELL), _p(words.periods_text(entry), _CELL)])
    widths = [45 * mm, 60 * mm, 30 * mm, 20 * mm, 25 * mm, 25 * mm, 25 * mm, 22 * mm]
    story += [Table(rows, colWidths=widths, repeatRows=1, style=_TABLE_STYLE), Spacer(1, 4 * mm),
              _p(words.definitions, _SMALL)]
    return story


def _standard_section(entry: StandardReport, document: ComplianceReport, words: Wording) -> list:
    total = entry.total
    counts = ", ".join(f"{words.heading(f)} {total.value(f)}" for f in COUNT_FIELDS)
    story: list = [
        _p(f"{entry.standard} — {words.standard_name(entry)}", _STYLES["Heading2"]),
        _p(words(msg("Goal {goal} · version in force {version} · versions in the clocks {versions} · whole period: "
                     "{counts}, compliance {compliance}", goal=words.goal_text(entry),
                     version=entry.version_in_force or NOTHING, versions=words.versions_text(entry), counts=counts,
                     compliance=words.percent(total.counts.compliance)))),
        Spacer(1, 3 * mm),
    ]
    columns = document.columns
    header = [_cell(words.heading(c)) for c in columns]
    body = [[_cell(words.cell_text(c, row.value(c))) for c in columns] for row in entry.rows]
    if not body:
        story.append(_p(words(msg("No clocks started in the period."))))
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
    story.append(KeepTogether([_p(words(msg("Compliance by day (site-local days)")), _STYLES["Heading3"]),
                               _chart(entry, words)]))
    if entry.periods:
        period_rows = [[_cell(words.heading(f)) for f in ("period", *COUNT_FIELDS, "compliance", "goal_met")]]
        period_rows += [[p.period, *[str(p.value(f)) for f in COUNT_FIELDS], words.percent(p.counts.compliance),
                         _cell(words.cell_text("goal_met", p.goal_met))] for p in entry.periods]
        period_style = TableStyle(_TABLE_STYLE.getCommands())
        period_style.add("ALIGN", (0, 1), (0, -1), "LEFT")
        story += [Spacer(1, 3 * mm), _p(words(msg("Goal per {period}: {met} periods met",
                                                  period=words.period_word(entry.goal_per),
                                                  met=words.periods_text(entry))), _STYLES["Heading3"]),
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


def _chart(entry: StandardReport, words: Wording) -> Drawing:
    width, height = PAGE[0] - 30 * mm, 62 * mm
    drawing = Drawing(width, height)
    days, values = _series(entry)
    if not any(v is not None for v in values):
        empty = words(msg("No decided clocks in the period: nothing to chart."))
        drawing.add(String(10, height / 2, empty, fontName=_font_for(empty), fontSize=9))
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
        grey = words(msg("grey: no decided clocks that day"))
        drawing.add(String(chart.x, height - 6, grey, fontName=_font_for(grey), fontSize=7, fillColor=colors.grey))
    drawing.add(chart)
    if entry.goal_ratio is not None:
        y = chart.y + chart.height * entry.goal_ratio
        drawing.add(Line(chart.x, y, chart.x + chart.width, y, strokeColor=colors.HexColor("#E45756"),
                         strokeWidth=1, strokeDashArray=[4, 2]))
        goal = words(msg("goal {share}", share=words.percent(entry.goal_ratio)))
        drawing.add(String(chart.x + chart.width - 2, y + 2, goal, fontName=_font_for(goal), fontSize=7,
                           fillColor=colors.HexColor("#E45756"), textAnchor="end"))
    return drawing
