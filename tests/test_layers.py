"""Every import points down: the pure core knows no framework, the HTTP layer runs no SQL."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

MONITOR = Path(__file__).resolve().parent.parent / "monitor"
FORBIDDEN = {
    "core": ("flask", "sqlalchemy", "paho", "werkzeug", "marshmallow", "monitor.store", "monitor.api", "monitor.web"),
    "api": ("sqlalchemy", "monitor.store.models", "monitor.web"),  # the pages sit on the API, not under it
    "web": ("sqlalchemy", "monitor.store.models"),
}


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_or_beside_it(layer):
    found = {f"{path.relative_to(MONITOR)}: {name}"
             for path in (MONITOR / layer).rglob("*.py") for name in imports(path)
             if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])}
    assert not found


def test_the_device_side_needs_nothing_of_the_service_but_its_languages():
    """sensors/ run on a device: of monitor/ they take only the terminal's language, which is Flask- and
    database-free (SQLAlchemy, Flask and paho's service side stay on the server)."""
    sensors = MONITOR.parent / "sensors"
    taken = {name for path in sensors.rglob("*.py") for name in imports(path) if name.split(".")[0] == "monitor"}
    assert taken == {"monitor.languages"}
    assert not {name for name in imports(MONITOR / "languages.py")
                if name.split(".")[0] in ("flask", "flask_babel", "sqlalchemy", "paho")}


#: the command line: it opens the database only through ``with_database`` and asks the service
#: modules and ``monitor/store/repository.py`` for rows
COMMAND_LINE = ("cli.py", "cli_database.py", "reports/commands.py")


def test_the_command_line_runs_no_sql_of_its_own():
    found = {f"{name}: {module}" for name in COMMAND_LINE for module in imports(MONITOR / name)
             if any(module == bad or module.startswith(bad + ".") for bad in ("sqlalchemy", "monitor.store.models"))}
    assert not found
