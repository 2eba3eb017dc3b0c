"""The standards in force: versions in the database, seeded from the standards directory.

Every process (web or worker) keeps its own parsed copy and reloads when the newest version id
in the database changes, so an edit applies everywhere without a restart.
"""
from __future__ import annotations

import difflib
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from monitor import standards_dir
from monitor.core.standards import Standard, StandardSet
from monitor.loader import StandardsError, load_set
from monitor.store import audit
from monitor.store.db import Database
from monitor.store.models import StandardsVersion

log = logging.getLogger(__name__)
FILE_AUTHOR = "file"


class VersionConflict(Exception):
    """``If-Match`` named another version than the current one."""


class Registry:
    def __init__(self, db: Database, directory: str | Path) -> None:
        self.db = db
        self.directory = Path(directory)
        self.current = StandardSet()
        self._by_start: dict[str, list[Standard]] = {}
        self._marker: int | None = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------
    def import_directory(self, now: datetime | None = None) -> None:
        """At start: store each file on disk as a version when it is new or was changed while the
        service was stopped, then load what is in force.

        A file counts as changed when its text is neither the newest version (a ``PUT`` wrote it)
        nor the last one imported from disk (versions saved before ``PUT`` wrote files lived only
        in the database; the unchanged old file must not undo them). A file whose version is only
        in the database stays in force. A file on disk that does not validate refuses the start.
        """
        self._import(standards_dir.read_texts(self.directory), now, since_last_import=True)
        self.reload()

    def import_files(self, texts: dict[str, str], now: datetime | None = None) -> bool:
        """While running: store files seen changed on disk (``""`` = removed) whose text is not
        already the newest version; True when a version was stored. StandardsError when invalid."""
        stored = self._import(texts, now, since_last_import=False)
        if stored:
            self.reload()
        return stored

    def _import(self, texts: dict[str, str], now: datetime | None, since_last_import: bool) -> bool:
        """Parsing and validation happen before the write transaction (and again if another process
        stored a version meanwhile), so a slow file never holds SQLite's write lock."""
        now = now or datetime.now(timezone.utc)
        while True:
            with self.db.read_session() as session:
                seen, proposed, changed = self._changed_on_disk(session, texts, since_last_import)
            if not changed:
                return False
            load_set(_in_force(proposed))
            with self.db.session() as session:
                if _numbers(self._latest_versions(session)) != seen:
                    continue  # another process stored a version meanwhile: validate again
                for name, text in changed.items():
                    self._store_version(session, name, text, FILE_AUTHOR, now)
            return True

    def _changed_on_disk(self, session: Session, texts: dict[str, str], since_last_import: bool):
        latest = self._latest_versions(session)
        proposed, changed = dict(latest), {}
        for name, text in texts.items():
            newest = latest.get(name, ("", 0))
            if newest[0] == text:
                continue
            if since_last_import and text == session.scalar(
                    select(StandardsVersion.text).where(StandardsVersion.file == name, StandardsVersion.author == FILE_AUTHOR)
                    .order_by(StandardsVersion.version.desc()).limit(1)):
                continue
            changed[name] = text
            proposed[name] = (text, newest[1] + 1)
        return _numbers(latest), proposed, changed

    def _latest_versions(self, session: Session) -> dict[str, tuple[str, int]]:
        newest = select(StandardsVersion.file, func.max(StandardsVersion.version).label("v")).group_by(
            StandardsVersion.file).subquery()
        rows = session.execute(select(StandardsVersion.file, StandardsVersion.text, StandardsVersion.version).join(
            newest, (StandardsVersion.file == newest.c.file) & (StandardsVersion.version == newest.c.v)))
        return {file: (text, version) for file, text, version in rows}

    def reload(self) -> None:
        with self.db.read_session() as session:
            marker = session.scalar(select(func.max(StandardsVersion.id)))
            versions = self._latest_versions(session)
        standards = load_set(_in_force(versions))
        with self._lock:
            self.current = standards
            self._by_start = _index_by_start(standards.standards)
            self._marker = marker

    def refresh(self) -> bool:
        """Reload when another process stored a version; returns whether anything changed."""
        with self.db.read_session() as session:
            marker = session.scalar(select(func.max(StandardsVersion.id)))
        if marker == self._marker:
            return False
        try:
            self.reload()
        except StandardsError as exc:  # stored versions were validated on the way in; keep serving
            log.error("stored standards no longer load: %s", exc)
            return False
        return True

    def for_events(self, event_types: Iterable[str]) -> list[Standard]:
        """Standards a case with these event types may start."""
        found: dict[str, Standard] = {}
        for event_type in event_types:
            for standard in self._by_start.get(event_type, ()):
                found[standard.id] = standard
        return list(found.values())

    # -- editing ---------------------------------------------------------------------------
    def save(self, name: str, text: str, author: str, if_match: int | None = None,
             now: datetime | None = None) -> int:
        """Validate the file with every other file in force, store it as the next version, write it
        into the directory, apply it. DirectoryError (nothing stored) when the file cannot be written."""
        staged = standards_dir.StagedFile(self.directory, name, text)
        try:
            version = self._save(name, text, author, if_match, now)
        except BaseException:
            staged.discard()
            raise
        # After the version is stored: a watch that sees the new text finds it is the newest already.
        try:
            staged.commit()
        except standards_dir.DirectoryError as exc:  # the version stands; say loudly that the file lags
            log.error("%s is stored as version %d but the file was not replaced: %s", name, version, exc)
        self.reload()
        return version

    def _save(self, name: str, text: str, author: str, if_match: int | None, now: datetime | None) -> int:
        now = now or datetime.now(timezone.utc)
        while True:
            # Validate outside the write transaction (SPEC §6: a slow file must not hold the
            # write lock), then store only if nothing changed meanwhile, else validate again.
            with self.db.read_session() as session:
                versions = self._latest_versions(session)
            self._check_if_match(versions, name, if_match)
            self._with_file(dict(versions), name, text)
            with self.db.session() as session:
                if _numbers(self._latest_versions(session)) != _numbers(versions):
                    continue
                return self._store_version(session, name, text, author, now)

    @staticmethod
    def _check_if_match(versions: dict[str, tuple[str, int]], name: str, if_match: int | None) -> None:
        current = versions.get(name, ("", 0))[1]
        if if_match is not None and if_match != current:
            raise VersionConflict(f"{name} is at version {current}, not {if_match}")

    def propose(self, name: str, text: str) -> StandardSet:
        """The standards that would be in force with ``name`` replaced by ``text`` (validated)."""
        with self.db.read_session() as session:
            return self._with_file(self._latest_versions(session), name, text)

    @staticmethod
    def _with_file(versions: dict[str, tuple[str, int]], name: str, text: str) -> StandardSet:
        versions[name] = (text, versions.get(name, ("", 0))[1] + 1)
        return load_set(_in_force(versions))

    @staticmethod
    def _store_version(session: Session, name: str, text: str, author: str, now: datetime) -> int:
        previous = session.execute(
            select(StandardsVersion.version, StandardsVersion.text).where(StandardsVersion.file == name)
            .order_by(StandardsVersion.version.desc()).limit(1)).first()
        number = (previous.version if previous else 0) + 1
        old_text = previous.text if previous else ""
        diff = "".join(difflib.unified_diff(old_text.splitlines(True), text.splitlines(True),
                                            f"{name}@{number - 1}", f"{name}@{number}"))
        row = {"file": name, "version": number, "text": text, "author": author, "created_at": now, "diff": diff}
        row["id"] = session.execute(insert(StandardsVersion).values(row).returning(StandardsVersion.id)).scalar_one()
        audit.append(session, "standards_version", [row])
        return number


def _in_force(versions: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
    """Without files whose newest version is empty: removed from the directory."""
    return {name: version for name, version in versions.items() if version[0]}


def _numbers(versions: dict[str, tuple[str, int]]) -> dict[str, int]:
    return {name: number for name, (_, number) in versions.items()}


def _index_by_start(standards: Iterable[Standard]) -> dict[str, list[Standard]]:
    index: dict[str, list[Standard]] = {}
    for standard in standards:
        for event_type in standard.start_types:
            index.setdefault(event_type, []).append(standard)
    return index
