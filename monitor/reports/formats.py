"""The report formats, each in one entry: name, media type, file extension and renderer.

The API, the CLI (``--format`` choices and ``-o`` extension), the web page's download buttons and
the OpenAPI document all read this registry, so a new format is one entry here (and its renderer).
Renderers take the typed document and never import this module, so nothing imports in a circle.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from monitor.reports.document import ComplianceReport

Renderer = Callable[[ComplianceReport, str], bytes]  # (document, language: "en" or "zh-CN")


@dataclass(frozen=True)
class ReportFormat:
    name: str
    label: str  # the web page's download button
    media_type: str
    extension: str
    render: Renderer
    binary: bool = False  # the CLI will not write it to a terminal
    inline: bool = False  # shown by the browser (and the web page), not offered as a download
    daily: bool = False  # needs each standard's per-day series

    def filename(self, document: ComplianceReport) -> str:
        """``compliance_2026-11-01_2026-12-01.pdf``; instants lose their colons for Windows' sake."""
        def part(bound: str) -> str:
            return re.sub(r"[^0-9A-Za-z-]", "", bound)

        return f"compliance_{part(document.start)}_{part(document.end)}.{self.extension}"


def _json(document: ComplianceReport, language: str) -> bytes:
    # The JSON is data for programs: keys and values as the SPEC names them, in every language.
    return json.dumps(document.to_json(), ensure_ascii=False, indent=1).encode("utf-8")


# openpyxl and reportlab take a tenth of a second to import: only when a report needs them.
def _csv(document: ComplianceReport, language: str) -> bytes:
    from monitor.reports.tabular import to_csv

    return to_csv(document, language).encode("utf-8")


def _xlsx(document: ComplianceReport, language: str) -> bytes:
    from monitor.reports.tabular import to_xlsx

    return to_xlsx(document, language)


def _pdf(document: ComplianceReport, language: str) -> bytes:
    from monitor.reports.pdf import to_pdf

    return to_pdf(document, language)


FORMATS: dict[str, ReportFormat] = {fmt.name: fmt for fmt in (
    ReportFormat("json", "JSON", "application/json", "json", _json, inline=True),
    ReportFormat("csv", "CSV", "text/csv; charset=utf-8", "csv", _csv),
    ReportFormat("xlsx", "Excel (XLSX)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx",
                 _xlsx, binary=True),
    ReportFormat("pdf", "PDF", "application/pdf", "pdf", _pdf, binary=True, daily=True),
)}


def format_of_extension(extension: str) -> ReportFormat | None:
    """The format a file name's extension (without the dot, any case) asks for, if any."""
    return next((fmt for fmt in FORMATS.values() if fmt.extension == extension.lower()), None)
