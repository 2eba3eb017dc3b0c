"""A bare ``pip install .`` gives a package whose every module imports and every entry point starts.

The test venv holds the test extra too, so an import check there would not notice a runtime
dependency that only the test extra brings (``requests`` once was one). These tests build a
virtualenv of their own with the runtime dependencies alone, pinned by constraints.txt.
"""
from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "sensors")
DEVICE_ENTRY_POINTS = ("sensors.replay", "sensors.simulate", "sensors.widelog")


def all_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            # alembic scripts run inside alembic's context only; __main__ runs the program
            if ".migrations" not in info.name and not info.name.endswith(".__main__"):
                names.append(info.name)
    return sorted(names)


def monitor_commands() -> list[list[str]]:
    """Every ``python -m monitor`` command and sub-command, from the click group itself."""
    import click

    from monitor.cli import main

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += walk(command, path + [name])
            else:
                found.append(path + [name])
        return found

    return walk(main, [])


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A fresh virtualenv with ``pip install <repo>`` (no extras), outside the repository."""
    home = tmp_path_factory.mktemp("bare")
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT),
         "-c", str(ROOT / "constraints.txt")],
        capture_output=True, text=True, timeout=600, cwd=home)
    assert done.returncode == 0, f"pip install . failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return python


def run_bare(python: Path, *args: str) -> subprocess.CompletedProcess:
    # run from outside the checkout, so only the installed package can be imported
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MONITOR_"))}
    env["LC_ALL"] = "C.UTF-8"  # the help follows the terminal's language; these checks read the English
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=120,
                          cwd=python.parent.parent.parent, env=env)


def test_the_bare_install_imports_every_module(bare_python):
    modules = all_modules()
    assert "monitor.cli" in modules and "sensors.publisher" in modules
    script = ("import importlib, json, sys\n"
              "failed = {}\n"
              f"for name in {modules!r}:\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except Exception as exc:\n"
              "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
              "print(json.dumps(failed))\n")
    done = run_bare(bare_python, "-c", script)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


@pytest.mark.parametrize("command", monitor_commands(), ids=lambda c: " ".join(["monitor", *c]))
def test_every_monitor_command_starts_with_help(bare_python, command):
    done = run_bare(bare_python, "-m", "monitor", *command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m monitor")


@pytest.mark.parametrize("module", DEVICE_ENTRY_POINTS)
def test_every_device_command_starts_with_help(bare_python, module):
    done = run_bare(bare_python, "-m", module, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout[:200]


def test_the_test_venv_has_what_constraints_pin():
    """The suite runs with the pinned versions (a drifted venv is why fresh machines failed)."""
    from importlib import metadata

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-").replace(".", "-")] = version.strip()
    for name in ("pytest", "schemathesis", "hypothesis", "flask", "sqlalchemy", "paho-mqtt"):
        assert metadata.version(name) == pins[name], (f"{name} {metadata.version(name)} is installed but constraints.txt pins {pins[name]}: "
            "install with  python -m pip install -e '.[test]' -c constraints.txt")
    assert sys.version_info >= (3, 11)


def test_the_bare_install_carries_pages_assets_catalogues_and_migrations(bare_python):
    """A wheel holds what the service reads at run time besides its modules."""
    script = ("import pathlib, monitor.web, monitor.store\n"
              "web = pathlib.Path(monitor.web.__file__).parent\n"
              "root = web.parent\n"
              "wanted = [web / 'templates/pages/base.html', web / 'templates/pages/board.html',\n"
              "          web / 'static/smartmon.css', web / 'static/tablet.js',\n"
              "          root / 'translations/zh_Hans_CN/LC_MESSAGES/messages.mo',\n"
              "          root / 'store/migrations/env.py', root / 'store/migrations/versions/0001_initial_schema.py']\n"
              "print([str(p.relative_to(root)) for p in wanted if not p.exists()])\n")
    done = run_bare(bare_python, "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
