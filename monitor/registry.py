"""The standards in force and their history: versions in the database, seeded from the directory.

Every process (web or worker) keeps its own parsed copy — the standards in force now
(:attr:`Registry.current`) and every version with the instant it was saved
(:attr:`Registry.history`, which decides the version that judges each clock, SPEC §3.2) — and
reloads when the newest version id in the database changes, so an edit applies everywhere without
a restart. The evaluator asks :meth:`Registry.history_for` inside its own transaction, so a clock is
never judged on a stale copy.
"""
from __future__ import annotations

import difflib
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from monitor import standards_dir
from monitor.core.messages import MessageError, msg
from monitor.core.standards import StandardSet, StandardsFile
from monitor.core.versions import History, Rejudgement
from monitor.loader import StandardsError, load_set
from monitor.store import audit
from monitor.store.db import Database
from monitor.store.models import Rejudgement as RejudgementRow
from monitor.store.models import StandardsVersion

log = logging.getLogger(__name__)
FILE_AUTHOR = "file"


class VersionConflict(MessageError):
    """``If-Match`` named another version than the current one."""


class Registry:
    def __init__(self, db: Database, directory: str | Path) -> None:
        self.db = db
        self.directory = Path(directory)
        self.current = StandardSet()
        self.history = History()
        self._marker: Any = None
        self._parsed: dict[int, StandardsFile | None] = {}  # version row id → the file as parsed (None: removed)
        self._lock = threading.Lock()
        #: called in the saving transaction with (session, history with the new version, saved_at);
        #: what it returns is called after the commit (the runtime re-judges future-dated clocks there)
        self.after_save: Callable[[Session, History, datetime], Callable[[], None] | None] | None = None

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
        while True:
            with self.db.read_session() as session:
                seen, proposed, changed = self._changed_on_disk(session, texts, since_last_import)
            if not changed:
                return False
            validated = load_set(_in_force(proposed))
            with self._storing() as session:
                if _numbers(self._latest_versions(session)) != seen:
                    continue  # another process stored a version meanwhile: validate again
                stamp = now or datetime.now(timezone.utc)
                for name, text in changed.items():
                    self._store_version(session, name, text, FILE_AUTHOR, stamp, validated)
                after = self._after_version(session, stamp)
            if after is not None:
                after()
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
            self._install(session)

    def refresh(self) -> bool:
        """Reload when another process stored a version; returns whether anything changed."""
        with self.db.read_session() as session:
            if self._read_marker(session) == self._marker:
                return False
            try:
                self._install(session)
            except StandardsError as exc:  # stored versions were validated on the way in; keep serving
                log.error("stored standards no longer load: %s", exc)
                return False
        return True

    def history_for(self, session: Session) -> History:
        """The history as the caller's transaction sees it (reloaded when another process saved)."""
        if self._read_marker(session) != self._marker:
            try:
                self._install(session)
            except StandardsError as exc:
                log.error("stored standards no longer load: %s", exc)
        return self.history

    @staticmethod
    def _read_marker(session: Session) -> Any:
        """Changes when a version or a re-judgement is stored (ids only grow)."""
        return tuple(session.execute(select(select(func.max(StandardsVersion.id)).scalar_subquery(),
                                            select(func.max(RejudgementRow.id)).scalar_subquery())).one())

    def _install(self, session: Session) -> None:
        marker = self._read_marker(session)
        current, history = self._load(session)
        with self._lock:
            self.current, self.history, self._marker = current, history, marker

    def _load(self, session: Session) -> tuple[StandardSet, History]:
        """Every stored version, parsed once per process: the set in force now and the history."""
        return load_history(session, self._parsed)

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
        while True:
            # Validate outside the write transaction (SPEC §6: a slow file must not hold the
            # write lock), then store only if nothing changed meanwhile, else validate again.
            with self.db.read_session() as session:
                versions = self._latest_versions(session)
            self._check_if_match(versions, name, if_match)
            validated = self._with_file(dict(versions), name, text)
            with self._storing() as session:
                if _numbers(self._latest_versions(session)) != _numbers(versions):
                    continue
                stamp = now or datetime.now(timezone.utc)
                version = self._store_version(session, name, text, author, stamp, validated)
                after = self._after_version(session, stamp)
            if after is not None:
                after()
            return version

    @contextmanager
    def _storing(self) -> Iterator[Session]:
        """The write transaction that stores versions, the chain locked first (the save instant is
        taken while no one else writes it). Parses cached for the rows it stores are forgotten when
        it fails: a rolled-back row id may be given to another version."""
        cached = set(self._parsed)
        try:
            with self.db.session() as session:
                audit.lock_chain(session)
                yield session
        except BaseException:
            for row_id in set(self._parsed) - cached:
                self._parsed.pop(row_id, None)
            raise

    @staticmethod
    def _check_if_match(versions: dict[str, tuple[str, int]], name: str, if_match: int | None) -> None:
        current = versions.get(name, ("", 0))[1]
        if if_match is not None and if_match != current:
            raise VersionConflict(msg("{file} is at version {current}, not {if_match}", file=name, current=current,
                                      if_match=if_match))

    def _after_version(self, session: Session, saved_at: datetime) -> Callable[[], None] | None:
        if self.after_save is None:
            return None
        _, history = self._load(session)
        return self.after_save(session, history, saved_at)

    def propose(self, name: str, text: str) -> StandardSet:
        """The standards that would be in force with ``name`` replaced by ``text`` (validated)."""
        with self.db.read_session() as session:
            return self._with_file(self._latest_versions(session), name, text)

    @staticmethod
    def _with_file(versions: dict[str, tuple[str, int]], name: str, text: str) -> StandardSet:
        versions[name] = (text, versions.get(name, ("", 0))[1] + 1)
        return load_set(_in_force(versions))

    def _store_version(self, session: Session, name: str, text: str, author: str, now: datetime,
                       validated: StandardSet) -> int:
        """Store the next version of ``name``; ``validated`` is the set it was validated in, outside
        the write transaction, so the history's reload inside it parses nothing (SPEC §6)."""
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
        self._parsed[row["id"]] = validated.file(name)  # None for an emptied (removed) file
        return number


def _in_force(versions: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
    """Without files whose newest version is empty: removed from the directory."""
    return {name: version for name, version in versions.items() if version[0]}


def _numbers(versions: dict[str, tuple[str, int]]) -> dict[str, int]:
    return {name: number for name, (_, number) in versions.items()}


def load_history(session: Session, parsed: dict[int, StandardsFile | None] | None = None) -> tuple[StandardSet, History]:
    """The stored versions as (the standards in force now, the history of every version).

    Versions take effect in the order they were stored; each at its ``created_at``, or at its
    predecessor's when the clocks of two saving processes disagree (so the newest version is always
    the one in force now). ``parsed`` caches parsed files by version row id across calls. The audit
    check builds the history it re-derives clocks with here too.
    """
    parsed = {} if parsed is None else parsed
    rows = session.execute(select(StandardsVersion.id, StandardsVersion.file, StandardsVersion.version,
                                  StandardsVersion.created_at).order_by(StandardsVersion.id)).all()
    latest = {row.file: row.id for row in rows}
    missing = [row.id for row in rows if row.id not in parsed]
    for chunk in (missing[i:i + 500] for i in range(0, len(missing), 500)):
        for row in session.execute(select(StandardsVersion.id, StandardsVersion.file, StandardsVersion.version,
                                          StandardsVersion.text).where(StandardsVersion.id.in_(chunk))):
            if not row.text:  # a file removed from the directory (its empty version): its standards leave
                parsed[row.id] = None
                continue
            try:
                parsed[row.id] = load_set({row.file: (row.text, row.version)}).files[0]
            except StandardsError as exc:
                if latest.get(row.file) == row.id:
                    raise
                log.error("standards version %s@%s no longer loads; the version before it stays in force "
                          "until the next one: %s", row.file, row.version, exc)
    files: dict[str, StandardsFile] = {}
    changes: list[tuple[datetime, dict]] = []
    for row in rows:
        if row.id in parsed and parsed[row.id] is None:
            files.pop(row.file, None)
        elif row.id in parsed:
            files[row.file] = parsed[row.id]
        effective = max(row.created_at, changes[-1][0]) if changes else row.created_at
        mapping = {s.id: s for name in sorted(files) for s in files[name].standards}
        if changes and changes[-1][0] == effective:
            changes[-1] = (effective, mapping)  # saved together (the files found at one start)
        else:
            changes.append((effective, mapping))
    version_ids = {(row.file, row.version): row.id for row in rows}
    rejudgements = []
    for row in session.execute(select(RejudgementRow.id, RejudgementRow.standard_id, RejudgementRow.file,
                                      RejudgementRow.version, RejudgementRow.window_from, RejudgementRow.window_to,
                                      RejudgementRow.at).order_by(RejudgementRow.id)):
        standards = parsed.get(version_ids.get((row.file, row.version)))
        definition = next((s for s in standards.standards if s.id == row.standard_id), None) if standards else None
        if definition is None:
            log.error("re-judgement %s names %s in %s@%s, which does not load; it is left out", row.id,
                      row.standard_id, row.file, row.version)
            continue
        rejudgements.append(Rejudgement(row.standard_id, row.window_from, min(row.window_to, row.at), definition))
    return StandardSet(tuple(files[name] for name in sorted(files))), History(changes, rejudgements)
