"""The tamper-evident audit trail: a hash chain over events, device status messages, standards
versions, alert actions and re-judgements.

Each stored row gets a link ``hash = sha256(prev_hash | kind | ref | row_hash)``; ``row_hash`` is
the hash of the row's canonical content *including its primary key*, so a row changed, deleted,
inserted or moved to another key behind the service's back no longer matches its link.
Anyone with write access could rebuild the whole chain, which is why reports print the head.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from monitor.core.messages import Message, msg
from monitor.store import bulk
from monitor.store.db import Database
from monitor.store.models import AlertAction, AuditRecord, DeviceStatus, EventRow, Rejudgement, StandardsVersion

GENESIS = "0" * 64
_CHAIN_LOCK = 7_400_211  # pg advisory lock id: one writer appends to the chain at a time
_CHUNK = 5000


def _canonical(value: Any) -> Any:
    """Only called for what JSON has no form for: datetimes as ISO 8601, anything else as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_canonical)


def row_digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(_ENCODER.encode(fields).encode("utf-8")).hexdigest()


def event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "id": row["id"], "case": row["case_id"], "type": row["type"], "at": row["at"],
            "site": row["site"], "device": row["device"], "staff": row["staff"], "attrs": row["attrs"],
            "received_at": row["received_at"], "source": row["source"]}


def status_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "site": row["site"], "device": row["device"], "state": row["state"], "at": row["at"],
            "received_at": row["received_at"]}


def version_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "file": row["file"], "version": row["version"], "text": row["text"],
            "author": row["author"], "created_at": row["created_at"], "diff": row["diff"]}


def action_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "alert_id": row["alert_id"], "action": row["action"], "actor": row["actor"],
            "at": row["at"], "alert": row["alert"]}


def rejudgement_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "standard": row["standard_id"], "file": row["file"], "version": row["version"],
            "from": row["window_from"], "to": row["window_to"], "actor": row["actor"], "at": row["at"],
            "clocks": row["clocks"], "changed": row["changed"]}


#: kind → (table, primary-key column, canonical fields)
KINDS = {
    "event": (EventRow, EventRow.seq, event_fields),
    "device_status": (DeviceStatus, DeviceStatus.seq, status_fields),
    "standards_version": (StandardsVersion, StandardsVersion.id, version_fields),
    "alert_action": (AlertAction, AlertAction.seq, action_fields),
    "rejudgement": (Rejudgement, Rejudgement.id, rejudgement_fields),
}


def link_hash(prev_hash: str, kind: str, ref: str, row_hash: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{kind}|{ref}|{row_hash}".encode()).hexdigest()


def head(session: Session) -> str:
    last = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1))
    return last or GENESIS


def lock_chain(session: Session) -> None:
    """Be the one writer of the chain until this transaction ends (SQLite's write lock already is)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK})


def append(session: Session, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Chain freshly inserted rows of one kind (column → value), in the order given, inside the caller's
    transaction."""
    if not rows:
        return
    lock_chain(session)
    _, _, fields = KINDS[kind]
    prev = head(session)
    records = []
    for row in rows:
        content = fields(row)
        ref = _ref(content)
        digest = row_digest(content)
        current = link_hash(prev, kind, ref, digest)
        records.append({"kind": kind, "ref": ref, "row_hash": digest, "prev_hash": prev, "hash": current})
        prev = current
    bulk.insert_rows(session, AuditRecord, records)


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head: str
    #: ``{seq, kind, reason}`` of the first difference, its reason a message id
    broken: dict[str, Any] | None

    @property
    def first_broken(self) -> dict[str, Any] | None:
        """The first difference with its reason in English."""
        return self.worded(str)

    def worded(self, say: Callable[[Message], str]) -> dict[str, Any] | None:
        """The first difference, its reason worded by ``say`` (a reader's translator)."""
        return self.broken and {**self.broken, "reason": say(self.broken["reason"])}

    def to_json(self, say: Callable[[Message], str] = str) -> dict[str, Any]:
        """The result for a client; ``say`` words the reason in its reader's language."""
        return {"ok": self.ok, "records": self.records, "head": self.head, "first_broken": self.worded(say)}


def _chain(session: Session) -> Iterator[list[AuditRecord]]:
    last = 0
    while True:
        batch = session.scalars(
            select(AuditRecord).where(AuditRecord.seq > last).order_by(AuditRecord.seq).limit(_CHUNK)
        ).all()
        if not batch:
            return
        yield list(batch)
        last = batch[-1].seq


def _ref(content: dict[str, Any]) -> str:
    return str(content["seq"] if "seq" in content else content["id"])


def _live_digests(session: Session, batch: list[AuditRecord]) -> dict[tuple[str, str], str]:
    """(kind, ref) → digest of the live row, for every row a chunk of links refers to."""
    digests = {}
    for kind, (table, key, fields) in KINDS.items():
        wanted = [int(r.ref) for r in batch if r.kind == kind]
        if wanted:
            for row in session.execute(select(table.__table__).where(key.in_(wanted))).mappings():
                content = fields(row)
                digests[(kind, _ref(content))] = row_digest(content)
    return digests


def _first_unchained(session: Session, seen: dict[str, int]) -> dict[str, Any] | None:
    for kind, (table, key, _fields) in KINDS.items():
        live = session.scalar(select(func.count()).select_from(table)) or 0
        if live != seen.get(kind, 0):
            chained = select(func.cast(AuditRecord.ref, key.type)).where(AuditRecord.kind == kind)
            stray = session.scalar(select(func.min(key)).where(key.not_in(chained)))
            return {"seq": None, "kind": kind,
                    "reason": msg("{kind} {ref} is not in the chain (inserted behind the service's back)", kind=kind,
                                  ref=stray)}
    return None


def verify(db: Database, progress: Callable[[int, int], None] | None = None,
           expect_head: str | None = None) -> Verification:
    """Re-hash the live rows against the chain and report the first broken link, in chain order.

    ``records`` is the number of links in the chain and ``head`` its last hash, broken or not.
    Runs on one snapshot (an event committed meanwhile would otherwise look like a row inserted
    behind the service's back). ``expect_head`` — a head printed on an earlier report — must still
    be in the chain: a chain cannot notice its own tail being cut off, rows and links together.
    ``progress(checked, total)`` is called every few thousand links. (The figures derived from the
    chained rows — clocks, alerts — are checked by :func:`monitor.verification.verify` on top.)
    """
    with db.read_session() as session:
        return verify_session(session, progress, expect_head)


def verify_session(session: Session, progress: Callable[[int, int], None] | None = None,
                   expect_head: str | None = None) -> Verification:
    """:func:`verify` inside the caller's (read-only, snapshot) session."""
    total = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    last = head(session)
    prev, count, seen = GENESIS, 0, dict.fromkeys(KINDS, 0)
    for batch in _chain(session):
        live = _live_digests(session, batch)
        for record in batch:
            broken = _check(record, prev, live)
            if broken:
                return Verification(False, total, last, broken)
            prev = record.hash
            count += 1
            seen[record.kind] += 1
        if progress:
            progress(count, total)
    broken = _first_unchained(session, seen)
    if broken is None and expect_head and expect_head != GENESIS and session.scalar(
            select(AuditRecord.seq).where(AuditRecord.hash == expect_head).limit(1)) is None:
        broken = {"seq": None, "kind": "chain",
                  "reason": msg("head {head} is no longer in the chain: links were removed or the chain was "
                                "rebuilt since a report named it", head=expect_head)}
    return Verification(broken is None, total, last, broken)


def _check(record: AuditRecord, prev: str, live: dict[tuple[str, str], str]) -> dict[str, Any] | None:
    if record.prev_hash != prev or link_hash(prev, record.kind, record.ref, record.row_hash) != record.hash:
        return {"seq": record.seq, "kind": record.kind, "reason": msg("the chain link itself was altered")}
    digest = live.get((record.kind, record.ref))
    if digest is None:
        return {"seq": record.seq, "kind": record.kind,
                "reason": msg("{kind} {ref} was deleted", kind=record.kind, ref=record.ref)}
    if digest != record.row_hash:
        return {"seq": record.seq, "kind": record.kind,
                "reason": msg("{kind} {ref} was changed", kind=record.kind, ref=record.ref)}
    return None
