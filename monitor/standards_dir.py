"""The standards directory as the other half of the stored versions (SPEC §3).

A ``PUT`` writes its file here atomically (a temporary file in the same directory, renamed over
the old one only after the version is stored), and a watch notices files changed, added or
removed while the service runs and hands them to the registry as new versions (author ``file``).
"""
from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.core.messages import MessageError, msg
from monitor.loader import StandardsError

if TYPE_CHECKING:
    from monitor.registry import Registry

log = logging.getLogger(__name__)


class DirectoryError(MessageError):
    """The standards directory cannot be written; the message says which file and why."""


def read_texts(directory: Path) -> dict[str, str]:
    """name → text of every ``*.yaml`` file directly in the directory (none if it does not exist)."""
    if not directory.is_dir():
        return {}
    texts = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            texts[path.name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:  # removed between listing and reading: gone, as the next look says
            continue
        except (OSError, UnicodeDecodeError) as exc:
            log.error("%s: cannot be read: %s", path, exc)
    return texts


class StagedFile:
    """A file's new text written next to it under a name the watch ignores, not yet in place."""

    def __init__(self, directory: Path, name: str, text: str) -> None:
        self.target = directory / name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DirectoryError(msg("cannot write {target}: {reason}", target=str(self.target),
                                     reason=exc.strerror or str(exc))) from None
        self.temporary = Path(temporary)

    def commit(self) -> None:
        """Put it in place in one step: a reader sees the old file or the new one, never half."""
        try:
            os.chmod(self.temporary, 0o644)
            os.replace(self.temporary, self.target)
        except OSError as exc:
            self.discard()
            raise DirectoryError(msg("cannot write {target}: {reason}", target=str(self.target),
                                     reason=exc.strerror or str(exc))) from None

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


class DirectoryWatch:
    """Notices what changed in the directory since it last looked and stores it as versions.

    A change is what differs from the previous look of *this* watch, so the file a ``PUT`` has
    just written (whose text is already the newest version) stores nothing. A file that does not
    validate is refused with one logged line per problem (``file:line:column: message``), once per
    text, and the version in force stays.
    """

    def __init__(self, registry: "Registry") -> None:
        self.registry = registry
        self.seen: dict[str, str] = {}

    def prime(self) -> None:
        self.seen = read_texts(self.registry.directory)

    def check(self, now: datetime | None = None) -> bool:
        """Look once; True when a new version was stored."""
        texts = read_texts(self.registry.directory)
        changed = {name: text for name, text in texts.items() if self.seen.get(name) != text}
        removed = [name for name in self.seen if name not in texts]
        if not changed and not removed:
            return False
        try:
            stored = self.registry.import_files({**changed, **{name: "" for name in removed}}, now)
        except StandardsError as exc:
            for p in exc.problems:
                log.error("%s:%d:%d: %s (the file on disk was refused; the version in force stays)",
                          self.registry.directory / p.file, p.line, p.column, p.message)
            stored = False
        # Only now: a look that failed otherwise (the database away) is repeated at the next one.
        self.seen = texts
        return stored
