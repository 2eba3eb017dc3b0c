"""The stored versions and the standards directory agree (SPEC §3): a PUT writes its file into the
directory atomically; a file changed, added or removed on disk while the service runs becomes a
new version (author ``file``) within ``standards.reload_interval``; an invalid file on disk is
refused with a logged ``file:line:column`` error and the version in force stays."""
from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest

from monitor.app import create_app
from tests.conftest import app_config
from tests.harness.processes import wait_for
from tests.harness.service import Service

YAML = {"Content-Type": "application/yaml"}


def directory(runtime) -> Path:
    return runtime.registry.directory


def versions(client, admin, name="floor.yaml") -> list[tuple[int, str]]:
    items = client.get(f"/api/v1/standards/files/{name}/versions", headers=admin).json["items"]
    return [(v["version"], v["author"]) for v in items]


def test_a_put_writes_the_file_into_the_directory_and_leaves_nothing_else(client, runtime, admin):
    text = (directory(runtime) / "floor.yaml").read_text(encoding="utf-8").replace("within: 2m", "within: 3m", 1)
    response = client.put("/api/v1/standards/files/floor.yaml", data=text, headers={**admin, **YAML})
    assert response.status_code == 200 and response.json["version"] == 2
    assert (directory(runtime) / "floor.yaml").read_text(encoding="utf-8") == text
    new = "events: {x: X happens, y: Y happens}\nstandards: []\n"
    assert client.put("/api/v1/standards/files/extra.yaml", data=new, headers={**admin, **YAML}).status_code == 200
    assert sorted(p.name for p in directory(runtime).iterdir()) == ["extra.yaml", "floor.yaml"]  # no temporary left
    # The watch sees the files the PUTs wrote and stores nothing more.
    assert runtime.directory_watch.check() is False
    assert versions(client, admin) == [(2, "admin-token"), (1, "file")]


def test_a_refused_put_leaves_the_file_as_it_was(client, runtime, admin):
    before = (directory(runtime) / "floor.yaml").read_text(encoding="utf-8")
    response = client.put("/api/v1/standards/files/floor.yaml", data=before.replace("within: 2m", "within: soon", 1),
                          headers={**admin, **YAML})
    assert response.status_code == 422
    conflict = client.put("/api/v1/standards/files/floor.yaml", data=before, headers={**admin, **YAML, "If-Match": '"7"'})
    assert conflict.status_code == 412
    assert (directory(runtime) / "floor.yaml").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in directory(runtime).iterdir()) == ["floor.yaml"]


def test_a_put_that_cannot_write_the_file_stores_nothing(client, runtime, admin, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    runtime.registry.directory = blocker / "standards"
    text = client.get("/api/v1/standards/files/floor.yaml", headers=admin).get_data(as_text=True)
    response = client.put("/api/v1/standards/files/floor.yaml", data=text.replace("2m", "3m", 1), headers={**admin, **YAML})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "standards_directory" and "nothing changed" in response.json["error"]["message"]
    assert versions(client, admin) == [(1, "file")]


def test_files_changed_added_and_removed_on_disk_become_versions_by_file(client, runtime, admin):
    path = directory(runtime) / "floor.yaml"
    edited = path.read_text(encoding="utf-8").replace("within: 2m", "within: 5m", 1)
    path.write_text(edited, encoding="utf-8")
    (directory(runtime) / "hall.yaml").write_text(
        "events: {q: Queued}\nstandards:\n  - {id: q-call, name: Call, description: Called within 5 minutes., "
        "start: q, stop: q, within: 5m, goal: {ratio: 0.8, per: day}}\n", encoding="utf-8")
    assert runtime.directory_watch.check() is True
    assert versions(client, admin) == [(2, "file"), (1, "file")]
    assert runtime.registry.current.get("greet").within.total_seconds() == 300
    assert runtime.registry.current.get("q-call") is not None
    assert client.get("/api/v1/standards/files/floor.yaml", headers=admin).get_data(as_text=True) == edited
    (directory(runtime) / "hall.yaml").unlink()
    assert runtime.directory_watch.check() is True
    assert runtime.registry.current.get("q-call") is None
    assert versions(client, admin, "hall.yaml") == [(2, "file"), (1, "file")]
    assert runtime.directory_watch.check() is False  # nothing new on disk


def test_an_invalid_file_on_disk_is_refused_with_its_line_and_column_and_the_last_good_version_stays(
        client, runtime, admin, caplog):
    path = directory(runtime) / "floor.yaml"
    good = path.read_text(encoding="utf-8")
    line = good.splitlines().index("    within: 2m") + 1
    path.write_text(good.replace("within: 2m", "within: soon", 1), encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="monitor.standards_dir"):
        assert runtime.directory_watch.check() is False
        assert runtime.directory_watch.check() is False  # logged once per text, not at every look
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].startswith(f"{path}:{line}:") and "soon" in refused[0]
    assert versions(client, admin) == [(1, "file")]
    assert runtime.registry.current.get("greet").within.total_seconds() == 120
    path.write_text(good.replace("within: 2m", "within: 4m", 1), encoding="utf-8")
    assert runtime.directory_watch.check() is True
    assert runtime.registry.current.get("greet").within.total_seconds() == 240


def test_at_start_a_file_edited_while_stopped_is_imported_and_an_old_file_does_not_undo_a_saved_version(db_url):
    config = app_config(db_url)
    first = create_app(config)
    folder = directory(first.extensions["smartmon"])
    path = folder / "floor.yaml"
    original = path.read_text(encoding="utf-8")
    # A version saved when PUT did not write files yet: only in the database.
    first.extensions["smartmon"].registry._save("floor.yaml", original.replace("within: 2m", "within: 3m", 1),
                                                "olga", None, None)
    first.extensions["smartmon"].db.dispose()
    again = create_app(config)
    assert again.extensions["smartmon"].registry.current.get("greet").within.total_seconds() == 180
    again.extensions["smartmon"].db.dispose()
    path.write_text(original.replace("within: 2m", "within: 6m", 1), encoding="utf-8")  # edited while stopped
    third = create_app(config)
    assert third.extensions["smartmon"].registry.current.get("greet").within.total_seconds() == 360
    third.extensions["smartmon"].db.dispose()


@pytest.mark.slow
def test_a_running_service_takes_an_edit_on_disk_within_the_reload_interval(tmp_path, mosquitto):
    svc = Service(tmp_path, mosquitto.url, client_id=f"dir-{uuid.uuid4().hex[:6]}",
                  extra_env={"MONITOR_STANDARDS_RELOAD_INTERVAL": "1s"})
    with svc:
        path = svc.standards / "floor.yaml"
        good = path.read_text(encoding="utf-8")
        path.write_text(good.replace("within: 2m", "within: 7m", 1), encoding="utf-8")
        changed_at = time.monotonic()
        wait_for(lambda: svc.api("GET", "/standards/files/floor.yaml").headers["ETag"] == '"2"', 10,
                 message="the edit on disk stored as version 2")
        assert time.monotonic() - changed_at < 1 + 1.5  # one interval, and a look's own time
        assert svc.api("GET", "/standards/files/floor.yaml/versions").json()["items"][0]["author"] == "file"
        assert next(s for s in svc.api("GET", "/standards").json()["items"] if s["id"] == "greet")["within"] == "7m"
        path.write_text("standards: [", encoding="utf-8")
        wait_for(lambda: svc.log_count(f"{path}:1:") >= 1, 10, message="the refusal logged with file:line:column")
        assert svc.api("GET", "/standards/files/floor.yaml").headers["ETag"] == '"2"'
        # And a PUT lands in the file that operations' git or lint reads.
        put = svc.api("PUT", "/standards/files/floor.yaml", data=good.encode(), headers=YAML)
        assert put.status_code == 200 and put.json()["version"] == 3
        assert path.read_text(encoding="utf-8") == good
