"""A report format or a group key is one registry entry: registered here in a test, and nothing else
touched, it is offered by the API, the CLI (choices and --help), the web page and the OpenAPI
document. And the report modules import each other without a cycle."""
from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import func

from monitor.cli import main
from monitor.reports.document import ComplianceReport
from monitor.reports.formats import FORMATS, ReportFormat
from monitor.reports.groups import GROUP_KEYS, GroupKey
from monitor.store.models import ClockRow
from tests.harness.processes import ADMIN
from tests.test_reports import URL, app, cli_env, history  # noqa: F401  (fixtures)
from tests.test_web import page

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
PERIOD = "from=2026-11-24&to=2026-11-26&standard=greet"


def _lines(document: ComplianceReport, language: str) -> bytes:
    return "".join(f"{e.standard} {row.keys} met={row.counts.met}\n" for e in document.standards
                   for row in e.rows).encode("utf-8")


def report_parameter(client, name: str) -> dict:
    operation = client.get("/api/v1/openapi.json").json["paths"]["/reports/compliance"]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)["schema"]


def web_page(client):
    return page(client.get("/reports?from=2026-11-24&to=2026-11-25", headers=ADMIN_HEADERS))


def cli(db_url, *args):
    return CliRunner().invoke(main, ["report", *args], env=cli_env(db_url))


@pytest.fixture
def txt(monkeypatch):
    assert "txt" not in FORMATS
    monkeypatch.setitem(FORMATS, "txt", ReportFormat("txt", "Plain text", "text/plain; charset=utf-8", "txt", _lines))


@pytest.fixture
def year(monkeypatch):
    assert "year" not in GROUP_KEYS
    monkeypatch.setitem(GROUP_KEYS, "year",
                        GroupKey("year", "Year", lambda dialect: func.substr(ClockRow.start_local, 1, 4)))


def test_a_registered_format_is_offered_everywhere(history, client, db_url, tmp_path, request):
    assert "txt" not in report_parameter(client, "format")["enum"]
    request.getfixturevalue("txt")

    response = client.get(f"{URL}?{PERIOD}&format=txt", headers=ADMIN_HEADERS)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="compliance_2026-11-24_2026-11-26.txt"'
    assert response.data == b"greet {} met=4\n"
    assert report_parameter(client, "format")["enum"] == ["json", "csv", "xlsx", "pdf", "txt"]
    downloads = {a.attrs["data-format"]: a.attrs["href"] for a in web_page(client).find_all("a", data_format=True)}
    assert set(downloads) == {"CSV", "Excel (XLSX)", "PDF", "Plain text"} and "format=txt" in downloads["Plain text"]

    assert "[json|csv|xlsx|pdf|txt]" in cli(db_url, "--help").output
    printed = cli(db_url, "--from", "2026-11-24", "--to", "2026-11-26", "--standard", "greet", "--format", "txt")
    assert printed.exit_code == 0 and printed.stdout == "greet {} met=4\n"
    target = tmp_path / "out.TXT"  # the format follows the file's extension
    written = cli(db_url, "--from", "2026-11-24", "--to", "2026-11-26", "--standard", "greet", "-o", str(target))
    assert written.exit_code == 0 and "wrote txt" in written.stderr and target.read_bytes() == b"greet {} met=4\n"


def test_a_registered_group_key_is_offered_everywhere(history, client, db_url, request):
    assert "year" not in report_parameter(client, "group_by")["description"]
    request.getfixturevalue("year")

    body = client.get(f"{URL}?{PERIOD}&group_by=year,site", headers=ADMIN_HEADERS).json
    assert [(r["year"], r["site"], r["met"]) for r in body["standards"][0]["rows"]] == [("2026", "bj-01", 3),
                                                                                       ("2026", "sh-02", 1)]
    rows = list(csv.DictReader(io.StringIO(client.get(f"{URL}?{PERIOD}&group_by=year&format=csv",
                                                      headers=ADMIN_HEADERS).data.decode())))
    assert [(r["year"], r["met"]) for r in rows] == [("2026", "4")]
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{URL}?{PERIOD}&group_by=year&format=xlsx",
                                                         headers=ADMIN_HEADERS).data))
    assert ("Year", "Met") in {row[:2] for row in book["greet"].iter_rows(values_only=True)}
    pdf = PdfReader(io.BytesIO(client.get(f"{URL}?{PERIOD}&group_by=year&format=pdf", headers=ADMIN_HEADERS).data))
    section = pdf.pages[1].extract_text()
    assert "\nYear\nMet\n" in section and "\n2026\n4\n2\n1\n" in section  # header, then the row
    unknown = client.get(f"{URL}?group_by=fortnight", headers=ADMIN_HEADERS).json["error"]["message"]
    assert unknown.endswith("choose from site, day, week, month, hour, staff, year")

    assert "site, day, week, month, hour, staff, year" in report_parameter(client, "group_by")["description"]
    options = [o.attrs["value"] for o in web_page(client).find("select", name="group_by").find_all("option")]
    assert options == ["", "site", "day", "week", "month", "hour", "staff", "year"]
    assert "staff, year" in " ".join(cli(db_url, "--help").output.split())
    printed = cli(db_url, "--from", "2026-11-24", "--to", "2026-11-26", "--standard", "greet", "--group-by", "year")
    assert printed.exit_code == 0 and json.loads(printed.stdout)["standards"][0]["rows"][0]["year"] == "2026"


def _imports(path: Path) -> set[str]:
    """The monitor.reports modules a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "monitor.reports":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("monitor.reports."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("monitor.reports.")}
    return found


def test_the_report_modules_import_each_other_without_a_cycle():
    folder = Path(__file__).parent.parent / "monitor" / "reports"
    graph = {path.stem: _imports(path) for path in folder.glob("*.py")}
    assert graph["formats"] >= {"tabular", "pdf"}  # so a renderer importing the registry would be a cycle
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import cycle: {' → '.join((*trail, module))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, (*trail, module))
            done.add(module)

    for module in graph:
        visit(module, ())
