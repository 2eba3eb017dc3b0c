"""The one door events come in by: MQTT, HTTP and replay all end in :meth:`Ingestor.ingest`.

A call takes any number of deliveries (raw payloads with where they came from) and handles them
in one transaction: parse and validate, dead-letter what is bad with a one-line reason, store each
(site, event id) once — an identical repeat is a duplicate, a repeat with other content a dead
letter (SPEC §1) —, record device status messages, chain the new rows into the audit trail, and
re-evaluate the touched cases. Only after the commit does the caller acknowledge the deliveries,
so a crash loses nothing and a retried batch writes nothing twice.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor import metrics
from monitor.alerts import Fanout
from monitor.core.messages import Message, as_message, msg
from monitor.evaluator import CaseEvaluator
from monitor.schemas import EVENT_SCHEMA, STATUS_SCHEMA, clean_reason, one_line
from monitor.store import audit, bulk
from monitor.store.db import Database
from monitor.store.models import ClockRow, DeadLetter, DeviceStatus, EventRow

log = logging.getLogger(__name__)
EVENTS, STATUS = "events", "status"
SOURCE_LENGTH = 300  # the width of the source columns


@dataclass(frozen=True)
class Delivery:
    """One payload as it arrived. ``site``/``device`` come from the MQTT topic when there is one.

    ``kind`` is ``events`` or ``status`` (a device's online/offline message); ``refused`` holds
    the reason when the payload is unusable before parsing (e.g. a topic naming no valid device).
    ``retained``: the broker sent it as a retained message (on subscribing), not as it was published.
    """

    raw: bytes
    source: str
    site: str | None = None
    device: str | None = None
    allowed_sites: frozenset[str] | None = None
    default_site: str = "default"
    kind: str = EVENTS
    refused: Message | str | None = None
    retained: bool = False


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    #: ``{"index", "reason"}`` with the reason in English, as its dead letter stores it
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: the same reasons as message ids, for saying them in the sender's language
    reasons: list[Message] = field(default_factory=list, repr=False)

    def reject(self, index: int | None, reason: Message) -> None:
        self.rejected.append({"index": index, "reason": clean_reason(str(reason))})
        self.reasons.append(reason)

    def to_json(self, translate: Callable[[Message], str] = str) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": [{**r, "reason": clean_reason(translate(words))} for r, words in zip(self.rejected, self.reasons)]}


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 262144
    max_batch: int = 1000
    max_future_skew: timedelta = timedelta(minutes=5)


@dataclass
class _Parsed:
    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    #: per event: (its raw text, its index in a batch or None for a lone event), for a later dead letter
    origins: list[tuple[bytes | str, int | None]] = field(default_factory=list)
    source: str = ""


ID_REUSED = msg("id reused with different content")
#: a case is timed at one site: a device scoped to site A must not stop or cancel site B's clocks
CASE_ELSEWHERE = msg("case belongs to another site")
#: a reason's message id with parameters is kept next to its English text up to this size, else only the text
MAX_WORDS_JSON = 4000


def dead_letter(now: datetime, source: str, reason: Message, raw: bytes | str) -> dict[str, Any]:
    """A dead letter's row: the reason as stored English text (what the audit keeps) and as a
    message id with parameters (``words``), so pages and the API say it in the reader's language."""
    words = _storable(reason.to_json())
    if len(json.dumps(words)) > MAX_WORDS_JSON:
        words = None
    return {"received_at": now, "source": source, "reason": clean_reason(str(reason)), "words": words,
            "raw": printable(raw)}


def _storable(value: Any) -> Any:
    """Parameters escaped as the reason is (a field name may hold a NUL or a lone surrogate)."""
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    return clean_reason(value) if isinstance(value, str) else value


def printable(raw: bytes | str) -> str:
    """Raw payload as storable text: invalid UTF-8, surrogates and NUL bytes escaped, nothing dropped."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is too large")
    return value


def _load_json(raw: bytes) -> Any:
    """Strict JSON: NaN, Infinity and numbers beyond a double are refused, as RFC 8259 says."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)


def parse_delivery(delivery: Delivery, outcome: Outcome, now: datetime, limits: Limits) -> _Parsed:
    """Validate one payload into rows and dead letters (the good events of a batch are kept)."""
    source = delivery.source[:SOURCE_LENGTH]
    parsed = _Parsed(source=source)

    def reject(reason: Message, raw: bytes | str, index: int | None = None) -> None:
        parsed.dead.append(dead_letter(now, source, reason, raw))
        outcome.reject(index, reason)

    if delivery.refused:
        reject(as_message(delivery.refused), delivery.raw[:4096])
        return parsed
    if delivery.retained and delivery.kind == EVENTS:
        # Events are not state (SPEC §2): a retained one is an old event replayed to every new
        # subscriber, already stored when it was published live (or never meant to be).
        log.info("ignored a retained message on %s (%d bytes)", source, len(delivery.raw))
        metrics.RETAINED_IGNORED.inc()
        return parsed
    if len(delivery.raw) > limits.max_payload_bytes:
        reject(msg("payload is {size} bytes, over the {limit}-byte limit", size=len(delivery.raw),
                   limit=limits.max_payload_bytes), delivery.raw[:4096])
        return parsed
    try:
        document = _load_json(delivery.raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reject(msg("not valid JSON: {error}", error=str(exc).splitlines()[0][:200]), delivery.raw)
        return parsed
    if delivery.kind == STATUS:
        reason, row = _validate_status(document, delivery, now)
        if reason:
            reject(msg("status: {reason}", reason=reason), delivery.raw)
        else:
            parsed.statuses.append(row)
        return parsed
    items = document if isinstance(document, list) else [document]
    if isinstance(document, list) and len(items) > limits.max_batch:
        reject(msg("batch of {count} events is over the limit of {limit}", count=len(items), limit=limits.max_batch),
               delivery.raw)
        return parsed
    if isinstance(document, list) and not items:
        reject(msg("empty batch: send at least one event"), delivery.raw)
        return parsed
    for index, item in enumerate(items):
        reason, row = _validate(item, delivery, now, limits)
        if reason is None:
            row["source"] = source
            parsed.events.append(row)
            parsed.origins.append((json.dumps(item), index) if isinstance(document, list) else (delivery.raw, None))
        elif isinstance(document, list):
            reject(msg("event {index}: {reason}", index=index, reason=reason), json.dumps(item), index)
        else:
            reject(reason, delivery.raw, index)
    return parsed


def _validate(item: Any, delivery: Delivery, now: datetime, limits: Limits) -> tuple[Message | None, dict]:
    if not isinstance(item, dict):
        return msg("an event must be a JSON object, not {type}", type=type(item).__name__), {}
    try:
        data = EVENT_SCHEMA.load(item)
    except ValidationError as exc:
        return one_line(exc.messages), {}
    site = data.get("site")
    if delivery.site is not None and site is not None and site != delivery.site:
        return msg("site {site} does not match the topic's site {topic_site}", site=repr(site),
                   topic_site=repr(delivery.site)), {}
    site = site or delivery.site or _token_site(delivery) or delivery.default_site
    if delivery.allowed_sites is not None and site not in delivery.allowed_sites:
        return msg("this device token may not send events for site {site}", site=repr(site)), {}
    if data["at"] - now > limits.max_future_skew:
        return msg("'at' {at} is more than {skew} in the future (check the device clock)", at=item["at"],
                   skew=str(limits.max_future_skew)), {}
    return None, {
        "id": data["id"], "case_id": data["case"], "type": data["type"],
        "at": data["at"].astimezone(timezone.utc), "site": site, "device": delivery.device,
        "staff": data.get("staff"), "attrs": data.get("attrs") or {}, "received_at": now,
    }


def _validate_status(document: Any, delivery: Delivery, now: datetime) -> tuple[Message | None, dict]:
    if not isinstance(document, dict):
        return msg("a status must be a JSON object"), {}
    try:
        data = STATUS_SCHEMA.load(document)
    except ValidationError as exc:
        return one_line(exc.messages), {}
    # ``at`` is what the device claims, kept for information; the monitor times it by ``received_at``
    at = data["at"].astimezone(timezone.utc) if data["at"] else now
    return None, {"site": delivery.site, "device": delivery.device, "state": data["state"], "at": at,
                  "received_at": now}


def _token_site(delivery: Delivery) -> str | None:
    if delivery.allowed_sites is not None and len(delivery.allowed_sites) == 1:
        return next(iter(delivery.allowed_sites))
    return None


class Ingestor:
    def __init__(self, db: Database, evaluator: CaseEvaluator, fanout: Fanout, limits: Limits,
                 on_due: Callable[[datetime], None] = lambda due: None) -> None:
        self.db = db
        self.evaluator = evaluator
        self.fanout = fanout
        self.limits = limits
        self.on_due = on_due

    def ingest(self, deliveries: Sequence[Delivery], now: datetime | None = None) -> list[Outcome]:
        """Store and evaluate; retried once when another process stored the same id concurrently."""
        try:
            return self._ingest(deliveries, now)
        except IntegrityError:
            log.info("concurrent insert of the same event id; retrying the batch")
            return self._ingest(deliveries, now)

    def _ingest(self, deliveries: Sequence[Delivery], now: datetime | None) -> list[Outcome]:
        now = now or datetime.now(timezone.utc)
        outcomes = [Outcome() for _ in deliveries]
        parsed = [parse_delivery(d, o, now, self.limits) for d, o in zip(deliveries, outcomes)]
        dead = [row for p in parsed for row in p.dead]
        statuses = [row for p in parsed for row in p.statuses]
        with self.db.session() as session:
            fresh = self._fresh(session, parsed, outcomes, now, dead)
            bulk.insert_rows(session, DeadLetter, dead)
            if fresh:
                for row, seq in zip(fresh, bulk.allocate_keys(session, EventRow.seq, len(fresh))):
                    row["seq"] = seq
                bulk.insert_rows(session, EventRow, fresh)
                audit.append(session, "event", fresh)
            cases = {r["case_id"] for r in fresh} | self._record_statuses(session, statuses)
            changes, due = self.evaluator.reevaluate(session, cases, now) if cases else ([], None)
        metrics.EVENTS_ACCEPTED.inc(len(fresh))
        metrics.EVENTS_DUPLICATE.inc(sum(o.duplicates for o in outcomes))
        metrics.DEAD_LETTERS.inc(len(dead))
        self.fanout.publish(changes)
        if due is not None:
            self.on_due(due)
        return outcomes

    @staticmethod
    def _fresh(session: Session, parsed: list[_Parsed], outcomes: list[Outcome], now: datetime,
               dead: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Events new at their site, in arrival order. An identical repeat of a stored (site, id) is a
        duplicate; a repeat whose content differs is dead-lettered (appended to ``dead``)."""
        keys = {(row["site"], row["id"]) for p in parsed for row in p.events}
        stored: dict[tuple[str, str], tuple] = {}
        columns = (EventRow.site, EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.staff,
                   EventRow.attrs)
        for chunk in bulk.chunks(sorted({event_id for _, event_id in keys})):
            repeats = select(*columns).where(bulk.member_of(session, EventRow.id, chunk))
            for row in session.connection().execute(repeats):
                if (row.site, row.id) in keys:
                    stored[(row.site, row.id)] = _content(row._mapping)
        sites_of = _case_sites(session, {row["case_id"] for p in parsed for row in p.events})
        fresh = []
        for p, outcome in zip(parsed, outcomes):
            for row, (raw, index) in zip(p.events, p.origins):
                key, content = (row["site"], row["id"]), _content(row)
                held = stored.get(key)
                if held == content:
                    outcome.duplicates += 1
                    continue
                problem = ID_REUSED if held is not None else None
                if problem is None and row["site"] not in sites_of.setdefault(row["case_id"], {row["site"]}):
                    problem = CASE_ELSEWHERE
                if problem is None:
                    stored[key] = content
                    fresh.append(row)
                    outcome.accepted += 1
                else:
                    reason = problem if index is None else msg("event {index}: {reason}", index=index, reason=problem)
                    dead.append(dead_letter(now, p.source, reason, raw))
                    outcome.reject(0 if index is None else index, reason)
        return fresh

    @staticmethod
    def _record_statuses(session: Session, statuses: list[dict[str, Any]]) -> set[str]:
        """Store status messages (chained, as the data-gap figures rest on them); return the cases whose
        clocks fell due while a returning device was away."""
        cases: set[str] = set()
        if not statuses:
            return cases
        for row, seq in zip(statuses, bulk.allocate_keys(session, DeviceStatus.seq, len(statuses))):
            row["seq"] = seq
        bulk.insert_rows(session, DeviceStatus, statuses)
        audit.append(session, "device_status", statuses)
        for status in statuses:
            if status["state"] == "online":
                cases |= _cases_judged_while_offline(session, status["site"], status["device"],
                                                     status["received_at"])
        return cases


def _case_sites(session: Session, cases: set[str]) -> dict[str, set[str]]:
    """The site each stored case is timed at (a set: cases stored before this rule may have several)."""
    sites: dict[str, set[str]] = {}
    for chunk in bulk.chunks(sorted(cases)):
        owners = select(EventRow.case_id, EventRow.site).where(bulk.member_of(session, EventRow.case_id, chunk)) \
            .group_by(EventRow.case_id, EventRow.site)
        for case, site in session.connection().execute(owners):
            sites.setdefault(case, set()).add(site)
    return sites


def _content(row: Any) -> tuple:
    """What must agree for a repeat to be a duplicate (SPEC §1): case, type, at (the instant), staff, attrs."""
    at = row["at"]
    return (row["case_id"], row["type"], at.astimezone(timezone.utc) if at is not None else None, row["staff"],
            json.dumps(row["attrs"] or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def _cases_judged_while_offline(session: Session, site: str, device: str, back_at: datetime) -> set[str]:
    """They get ``data_gap`` when re-evaluated (the floor may have served in time unseen). Times are
    the monitor's own receive times (SPEC §2)."""
    since = session.scalar(select(DeviceStatus.received_at).where(
        DeviceStatus.site == site, DeviceStatus.device == device, DeviceStatus.state == "offline",
        DeviceStatus.received_at <= back_at).order_by(DeviceStatus.received_at.desc()).limit(1))
    if since is None:
        return set()
    return set(session.scalars(select(ClockRow.case_id).where(
        ClockRow.site == site, ClockRow.deadline >= since, ClockRow.deadline <= back_at)))

