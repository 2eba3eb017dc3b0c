"""Simulated floor devices: ``python -m sensors.simulate`` (SPEC §8).

Two venues publish SPEC §1 events over MQTT (§2), each as its own device:

* a hotel restaurant (site ``--site``, device ``floor-tablet``): tables are seated, greeted,
  served drinks, food and dessert, get the bill and pay — the nine timed promises of
  ``standards/restaurant.yaml``. Delays are drawn from log-normal distributions whose medians
  sit inside each promise and whose tails cross it, so roughly one clock in six or eight is
  missed; guests nobody greets (or whose main course is very late) walk out (``left``), and the
  tablet survey score and complaints get worse with the number of missed promises;
* a telecom business hall (site ``--hall-site``, device ``ticket-machine``) as in
  ``standards/business-hall.yaml``: tickets (15 % VIP, called first) are issued, called to one of
  ``--counters`` counters and served, or abandoned when the wait outlasts the customer's
  patience; some services pause for a missing document, some requests go to the back office, and
  customers rate the counter worse the longer they waited.

Cases are ``table-N/<seating time>``, ``ticket-A017/<issue time>`` and
``request-A017/<referral time>`` (UTC, to the second), so runs never share a case.

Stopping (SIGTERM, Ctrl-C, ``--duration``, ``--max-events``) closes what the run opened, so a
restarted demo leaves no ghost breaches behind: a table whose payment lies on it has it picked up,
any other table still being served leaves (``left``, which cancels its clocks), tickets still
waiting or at a counter are abandoned (``ticket_abandoned``), and open back-office requests are
completed. Each of these carries ``attrs.simulator = "stopped"``. A ``left`` counts as a walk-out
in the Relevant evidence, like any other.

Time: the simulation runs ``--speed`` times faster than real time, but every event carries the
real current time as ``at`` — the monitor rejects events from the future, so simulated time
cannot run ahead of the wall clock. Consequence: at ``--speed`` above 1, the gaps between
``at`` values shrink by that factor and nearly every clock is met; use speed 1 to see realistic
misses and alerts on the live board, higher speeds to load-test ingestion.

``run(SimOptions(...))`` does the same from Python (tests use it with a large speed and
``max_events``).
"""
from __future__ import annotations

import argparse
import heapq
import math
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Sequence

from monitor.languages import _l, use_terminal_language
from sensors.publisher import DEFAULT_PREFIX, Event, MqttPublisher, SendError, Sender, check_name, utc_now_iso

RESTAURANT_DEVICE = "floor-tablet"
HALL_DEVICE = "ticket-machine"
SERVERS = ("li.wei", "wang.fang", "zhang.min", "chen.jie")
CLERKS = ("clerk-1", "clerk-2", "clerk-3", "clerk-4", "clerk-5", "clerk-6")

# Event types of the restaurant, as declared in standards/restaurant.yaml.
SEATED = "seated"
GREETED = "greeted"
DRINK_ORDERED = "drink_ordered"
DRINK_SERVED = "drink_served"
DRINK_CHECK_DONE = "drink_check_done"  # "is another drink wanted?" after the first one
FOOD_ORDER_OFFERED = "food_order_offered"
STARTER_ORDERED = "starter_ordered"
STARTER_SERVED = "starter_served"
MAIN_ORDERED = "main_ordered"
MAIN_SERVED = "main_served"
PLATES_CLEARED = "plates_cleared"
DESSERT_ORDERED = "dessert_ordered"
DESSERT_SERVED = "dessert_served"
BILL_PRESENTED = "bill_presented"
PAYMENT_PLACED = "payment_placed"
PAYMENT_COLLECTED = "payment_collected"
LEFT = "left"  # a walk-out only: it cancels clocks and counts as bad feedback
SURVEY_ANSWERED = "survey_answered"
COMPLAINT_RECEIVED = "complaint_received"
GUEST_ACTIONS = frozenset({SEATED, LEFT, PAYMENT_PLACED, SURVEY_ANSWERED, COMPLAINT_RECEIVED})

# ... and of the business hall, as declared in standards/business-hall.yaml.
TICKET_ISSUED = "ticket_issued"
TICKET_CALLED = "ticket_called"
SERVED_DONE = "served_done"
TICKET_ABANDONED = "ticket_abandoned"
DOCUMENTS_REQUESTED = "documents_requested"
DOCUMENTS_RETURNED = "documents_returned"
REQUEST_REFERRED = "request_referred"
REQUEST_COMPLETED = "request_completed"
COUNTER_RATED = "counter_rated"


# -- the restaurant: one visit planned up front ---------------------------------------------


class Planned(NamedTuple):
    """An event of a visit, ``offset`` simulated seconds after seating."""

    offset: float
    type: str
    attrs: dict[str, Any]


def delay(rng: random.Random, median: float, spread: float) -> float:
    """Log-normal seconds: service delays are skewed — mostly near the median, a long tail."""
    return rng.lognormvariate(math.log(median), spread)


class VisitPlan:
    """Draws one table visit. Each promise's delay has its median inside the limit of
    standards/restaurant.yaml and a tail that crosses it (about one clock in six to eight is
    missed); misses are counted so the guests' survey score and complaints follow the service,
    which gives the Relevant criterion real evidence to find."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[Planned] = []
        self.misses = 0

    def add(self, offset: float, event_type: str, **attrs: Any) -> float:
        self.events.append(Planned(offset, event_type, attrs))
        return offset

    def wait(self, median: float, spread: float, limit: float) -> float:
        seconds = delay(self.rng, median, spread)
        self.misses += seconds > limit
        return seconds

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def plan_visit(rng: random.Random, party_size: int) -> list[Planned]:
    """The events of one table visit, in time order, offsets in seconds after seating."""
    visit = VisitPlan(rng)
    visit.add(0.0, SEATED, party_size=party_size)
    greeted = visit.wait(70, 0.45, limit=120)
    if greeted > 150 and visit.chance(0.5):  # nobody came: a silent complaint
        visit.add(150 + rng.uniform(0, 60), LEFT, walk_out=True)
        return visit.events
    visit.add(greeted, GREETED)
    food_offer_from = _drinks(visit, greeted) if visit.chance(0.85) else greeted
    offered = visit.add(food_offer_from + visit.wait(150, 0.5, limit=240), FOOD_ORDER_OFFERED)
    cleared = _food(visit, offered)
    if cleared is not None:
        _dessert_bill_and_verdict(visit, cleared)
    return sorted(visit.events, key=lambda p: p.offset)


def _drinks(visit: VisitPlan, greeted: float) -> float:
    """First round, the check after it (maybe a second round); returns when drinks were served."""
    rng = visit.rng
    ordered = visit.add(greeted + rng.uniform(20, 90), DRINK_ORDERED, order_id="d1")
    served = visit.add(ordered + visit.wait(150, 0.4, limit=240), DRINK_SERVED, order_id="d1")
    checked = visit.add(served + visit.wait(180, 0.45, limit=300), DRINK_CHECK_DONE)
    if visit.chance(0.4):
        again = visit.add(checked + rng.uniform(5, 30), DRINK_ORDERED, order_id="d2")
        visit.add(again + visit.wait(150, 0.4, limit=240), DRINK_SERVED, order_id="d2")
    return served


def _food(visit: VisitPlan, offered: float) -> float | None:
    """Starter (70 %) and main ordered together; returns when plates are cleared, or None when
    the guests walk out over a very late main course."""
    rng = visit.rng
    ordered = offered + rng.uniform(30, 120)
    if visit.chance(0.7):
        visit.add(ordered, STARTER_ORDERED, order_id="s1")
        visit.add(ordered + visit.wait(220, 0.35, limit=300), STARTER_SERVED, order_id="s1")
    visit.add(ordered, MAIN_ORDERED, order_id="m1")
    main = visit.wait(450, 0.3, limit=600)
    if main > 900 and visit.chance(0.4):
        visit.add(ordered + 900, COMPLAINT_RECEIVED, about="main course late")
        visit.add(ordered + 900 + rng.uniform(60, 180), LEFT, walk_out=True)
        return None
    served = visit.add(ordered + main, MAIN_SERVED, order_id="m1")
    return visit.add(served + rng.uniform(900, 1800), PLATES_CLEARED)


def _dessert_bill_and_verdict(visit: VisitPlan, cleared: float) -> None:
    """Dessert (50 %), bill, payment, then the tablet survey (60 %) and maybe a complaint."""
    rng = visit.rng
    bill_from = cleared
    if visit.chance(0.5):
        ordered = visit.add(cleared + rng.uniform(30, 120), DESSERT_ORDERED, order_id="x1")
        bill_from = visit.add(ordered + visit.wait(200, 0.35, limit=300), DESSERT_SERVED, order_id="x1")
    bill = visit.add(bill_from + visit.wait(150, 0.45, limit=240), BILL_PRESENTED)
    placed = visit.add(bill + rng.uniform(60, 300), PAYMENT_PLACED)
    collected = visit.add(placed + visit.wait(60, 0.5, limit=120), PAYMENT_COLLECTED)
    if visit.misses >= 2 and visit.chance(0.35):
        visit.add(collected + rng.uniform(5, 30), COMPLAINT_RECEIVED, about="slow service")
    if visit.chance(0.6):
        score = round(5 - 0.8 * visit.misses + rng.gauss(0, 0.7))
        visit.add(collected + rng.uniform(10, 90), SURVEY_ANSWERED, score=min(5, max(1, score)))


# -- the event loop --------------------------------------------------------------------------


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Loop:
    """Discrete-event loop in simulated seconds; the caller maps them onto the wall clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[_Due] = []
        self._seq = 0

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Due(when, self._seq, action))

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.now + seconds, action)

    def next_time(self) -> float | None:
        return self._heap[0].at if self._heap else None

    def step(self) -> None:
        due = heapq.heappop(self._heap)
        self.now = due.at
        due.action()


class Outbox:
    """Builds events at send time (``at`` = the real now) and buffers them per venue."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Event]] = {}
        self._last_case: dict[str, str] = {}

    def emit(self, venue: str, site: str, case: str, event_type: str,
             attrs: dict[str, Any], staff: str | None = None) -> None:
        event: Event = {"id": str(uuid.uuid4()), "case": case, "type": event_type,
                        "at": utc_now_iso(), "site": site}
        if staff:
            event["staff"] = staff
        if attrs:
            event["attrs"] = attrs
        self.pending.setdefault(venue, []).append(event)

    def new_case(self, prefix: str) -> str:
        """``table-12/2026-11-24T18:02:07``; suffixed when a fast run repeats the second."""
        case = f"{prefix}/{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')}"
        if self._last_case.get(prefix, "").startswith(case):
            case = f"{case}-{uuid.uuid4().hex[:4]}"
        self._last_case[prefix] = case
        return case

    def take(self) -> dict[str, list[Event]]:
        pending, self.pending = self.pending, {}
        return pending


STOPPED = {"simulator": "stopped"}  # attrs of the events that close a run's open cases


@dataclass
class _Visit:
    table: int
    server: str
    left_to_emit: int
    done: set[str] = field(default_factory=set)


class Restaurant:
    """Tables cycle: seat a party, play its planned visit, stay empty a while, seat the next."""

    venue = "restaurant"

    def __init__(self, loop: Loop, out: Outbox, rng: random.Random, site: str, tables: int) -> None:
        self.loop, self.out, self.rng, self.site = loop, out, rng, site
        self.visits: dict[str, _Visit] = {}  # visits with planned events still to come
        for table in range(1, tables + 1):
            loop.after(rng.uniform(0, 300), lambda table=table: self.seat(table))

    def seat(self, table: int) -> None:
        case = self.out.new_case(f"table-{table}")
        server = SERVERS[table % len(SERVERS)]
        plan = plan_visit(self.rng, party_size=self.rng.choice((1, 2, 2, 2, 3, 4, 4, 6)))
        self.visits[case] = _Visit(table, server, len(plan))
        for planned in plan:
            attrs = {"table": table, **planned.attrs}
            staff = None if planned.type in GUEST_ACTIONS else server
            self.loop.after(planned.offset, lambda p=planned, a=attrs, s=staff: self.emit(case, p.type, a, s))
        self.loop.after(plan[-1].offset + self.rng.expovariate(1 / 600), lambda: self.seat(table))

    def emit(self, case: str, event_type: str, attrs: dict[str, Any], staff: str | None) -> None:
        self.out.emit(self.venue, self.site, case, event_type, attrs, staff)
        visit = self.visits[case]
        visit.done.add(event_type)
        visit.left_to_emit -= 1
        if visit.left_to_emit == 0:
            del self.visits[case]

    def close(self) -> None:
        """The run stops: finish each table still being served (see the module docstring)."""
        for case, visit in self.visits.items():
            if PAYMENT_COLLECTED in visit.done or LEFT in visit.done:
                continue  # nothing runs any more; only a survey or a complaint was to come
            attrs = {"table": visit.table, **STOPPED}
            if PAYMENT_PLACED in visit.done:
                self.out.emit(self.venue, self.site, case, PAYMENT_COLLECTED, attrs, visit.server)
            else:
                self.out.emit(self.venue, self.site, case, LEFT, attrs)
        self.visits.clear()


@dataclass
class _Ticket:
    number: str
    case: str
    queue: str
    issued_at: float
    waiting: bool = True


class BusinessHall:
    """An M/G/c queue: tickets arrive at random (15 % VIP, called first), counters call the
    oldest waiting ticket, and a customer whose patience runs out before the call walks away
    (``ticket_abandoned``). Some services wait for a missing document (the clock pauses), some
    requests go to the back office (their own case), and some customers rate the counter —
    worse the longer they waited."""

    venue = "hall"

    def __init__(self, loop: Loop, out: Outbox, rng: random.Random, site: str, counters: int,
                 mean_arrival_s: float = 90.0) -> None:
        self.loop, self.out, self.rng, self.site = loop, out, rng, site
        self.free = list(range(1, counters + 1))
        self.queue: list[_Ticket] = []
        self.open: dict[str, _Ticket] = {}  # tickets and referred requests not finished yet
        self.issued = 0
        self.mean_arrival_s = mean_arrival_s
        loop.after(rng.uniform(0, 30), self.arrive)

    def emit(self, ticket: _Ticket, event_type: str, staff: str | None = None, **attrs: Any) -> None:
        self.out.emit(self.venue, self.site, ticket.case, event_type, {"ticket": ticket.number, **attrs}, staff)

    def arrive(self) -> None:
        self.issued += 1
        number = f"{'V' if self.rng.random() < 0.15 else 'A'}{self.issued:03d}"
        queue = "vip" if number.startswith("V") else "standard"
        ticket = _Ticket(number, self.out.new_case(f"ticket-{number}"), queue, self.loop.now)
        self.open[ticket.case] = ticket
        self.emit(ticket, TICKET_ISSUED, queue=queue)
        self.queue.append(ticket)
        self.loop.after(self.rng.expovariate(1 / 900), lambda: self.give_up(ticket))
        self.loop.after(self.rng.expovariate(1 / self.mean_arrival_s), self.arrive)
        self.call_next()

    def give_up(self, ticket: _Ticket) -> None:
        if ticket.waiting:
            ticket.waiting = False
            del self.open[ticket.case]
            self.emit(ticket, TICKET_ABANDONED)

    def call_next(self) -> None:
        self.queue = [t for t in self.queue if t.waiting]
        while self.free and self.queue:
            ticket = next((t for t in self.queue if t.queue == "vip"), self.queue[0])
            self.queue.remove(ticket)
            counter = self.free.pop(0)
            ticket.waiting = False
            clerk = CLERKS[(counter - 1) % len(CLERKS)]
            self.emit(ticket, TICKET_CALLED, clerk, counter=counter)
            self.serve(ticket, counter, clerk)

    def serve(self, ticket: _Ticket, counter: int, clerk: str) -> None:
        """Service time (median 4 min); one in ten waits while the customer fetches a document."""
        service = delay(self.rng, 240, 0.5)
        if self.rng.random() < 0.1:
            asked = self.rng.uniform(30, min(service, 180))
            away = self.rng.uniform(300, 900)
            self.loop.after(asked, lambda: self.emit(ticket, DOCUMENTS_REQUESTED, clerk, counter=counter))
            self.loop.after(asked + away, lambda: self.emit(ticket, DOCUMENTS_RETURNED, clerk, counter=counter))
            service += away
        self.loop.after(service, lambda: self.done(ticket, counter, clerk))

    def done(self, ticket: _Ticket, counter: int, clerk: str) -> None:
        self.emit(ticket, SERVED_DONE, clerk, counter=counter)
        del self.open[ticket.case]
        waited_min = (self.loop.now - ticket.issued_at) / 60
        if self.rng.random() < 0.4:
            score = round(5 - waited_min / 8 + self.rng.gauss(0, 0.6))
            self.emit(ticket, COUNTER_RATED, counter=counter, score=min(5, max(1, score)))
        if self.rng.random() < 0.05:
            self.refer(ticket, clerk)
        self.free.append(counter)
        self.call_next()

    def refer(self, ticket: _Ticket, clerk: str) -> None:
        """A request for the back office: its own case, done within hours (business time)."""
        request = _Ticket(ticket.number, self.out.new_case(f"request-{ticket.number}"), ticket.queue, self.loop.now)
        self.open[request.case] = request
        self.emit(request, REQUEST_REFERRED, clerk)
        self.loop.after(delay(self.rng, 4 * 3600, 0.5), lambda: self.complete(request))

    def complete(self, request: _Ticket) -> None:
        del self.open[request.case]
        self.emit(request, REQUEST_COMPLETED, "back-office")

    def close(self) -> None:
        """The run stops: abandon the tickets still open, complete the referred requests."""
        for case, ticket in self.open.items():
            closing = REQUEST_COMPLETED if case.startswith("request-") else TICKET_ABANDONED
            self.emit(ticket, closing, "back-office" if closing == REQUEST_COMPLETED else None, **STOPPED)
        self.open.clear()


# -- running ---------------------------------------------------------------------------------


@dataclass
class SimOptions:
    site: str = "demo"
    hall_site: str | None = None  # default "{site}-hall"
    tables: int = 8
    counters: int = 3
    speed: float = 1.0
    duration: float | None = None  # wall-clock seconds; None = until stopped
    max_events: int | None = None
    seed: int | None = None
    close_on_stop: bool = True  # close the run's open cases when it stops (module docstring)
    mqtt_url: str | None = None
    prefix: str = DEFAULT_PREFIX
    progress_every: int = 50

    @property
    def hall(self) -> str:
        return self.hall_site or f"{self.site}-hall"

    def check(self) -> None:
        check_name("site", self.site)
        check_name("site", self.hall)
        if self.speed <= 0:
            raise ValueError("--speed must be greater than 0")
        if self.tables < 0 or self.counters < 0 or not (self.tables or self.counters):
            raise ValueError("need at least one table or one counter")


@dataclass
class SimStats:
    events: Counter = field(default_factory=Counter)
    simulated_s: float = 0.0
    wall_s: float = 0.0

    def line(self) -> str:
        per_venue = ", ".join(f"{venue} {n}" for venue, n in sorted(self.events.items()))
        sim = time.strftime("%H:%M:%S", time.gmtime(self.simulated_s))
        return f"simulate: {sum(self.events.values())} events ({per_venue}), simulated {sim} in {self.wall_s:.1f}s"


def open_senders(options: SimOptions) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    try:
        if options.tables:
            senders[Restaurant.venue] = MqttPublisher(options.site, RESTAURANT_DEVICE, options.mqtt_url, prefix=options.prefix)
        if options.counters:
            senders[BusinessHall.venue] = MqttPublisher(options.hall, HALL_DEVICE, options.mqtt_url, prefix=options.prefix)
    except SendError:
        close_all(senders)
        raise
    return senders


def close_all(senders: dict[str, Sender]) -> None:
    for sender in senders.values():
        sender.close()


def run(options: SimOptions, senders: dict[str, Sender] | None = None,
        stop: threading.Event | None = None, progress: Callable[[str], None] | None = None) -> SimStats:
    """Run until ``duration`` (wall seconds), ``max_events`` or ``stop`` is set.

    ``senders`` maps venue (``restaurant``, ``hall``) to a transport; by default one MQTT
    publisher per venue is opened here and closed at the end.
    """
    options.check()
    stop = stop or threading.Event()
    own = senders is None
    senders = open_senders(options) if senders is None else senders
    loop, out, rng = Loop(), Outbox(), random.Random(options.seed)
    venues: list[Restaurant | BusinessHall] = []
    if options.tables:
        venues.append(Restaurant(loop, out, rng, options.site, options.tables))
    if options.counters:
        venues.append(BusinessHall(loop, out, rng, options.hall, options.counters))
    stats = SimStats()
    started = time.monotonic()
    try:
        _drive(loop, out, senders, options, stop, stats, started, progress)
        if options.close_on_stop:
            for venue in venues:
                venue.close()
            _flush(out, senders, stats)
    finally:
        stats.wall_s = time.monotonic() - started
        stats.simulated_s = loop.now
        if own:
            close_all(senders)
    return stats


def _drive(loop: Loop, out: Outbox, senders: dict[str, Sender], options: SimOptions,
           stop: threading.Event, stats: SimStats, started: float,
           progress: Callable[[str], None] | None) -> None:
    """Map simulated seconds onto the wall clock: wait (interruptibly) until each due moment."""
    deadline = None if options.duration is None else started + options.duration
    next_report = options.progress_every
    while not stop.is_set():
        due = loop.next_time()
        if due is None:
            return
        wall_due = started + due / options.speed
        if deadline is not None and wall_due > deadline:
            return
        if stop.wait(max(0.0, wall_due - time.monotonic())):
            return
        while loop.next_time() is not None and loop.next_time() <= due:
            loop.step()
        _flush(out, senders, stats)
        total = sum(stats.events.values())
        if progress and options.progress_every and total >= next_report:
            stats.wall_s, stats.simulated_s = time.monotonic() - started, loop.now
            progress(stats.line())
            next_report = (total // options.progress_every + 1) * options.progress_every
        if options.max_events is not None and total >= options.max_events:
            return


def _flush(out: Outbox, senders: dict[str, Sender], stats: SimStats) -> None:
    for venue, events in out.take().items():
        senders[venue].send(events)
        stats.events[venue] += len(events)


# -- command line ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sensors.simulate",
        description=_l("Simulated floor devices: a restaurant and a business hall publishing "
                       "SPEC §1 events over MQTT, with realistic delays so some standards are missed."),
        epilog=_l("example: python -m sensors.simulate --site bj-01 --tables 12 --duration 3600\n"
                  "Events carry the real current time as 'at'; with --speed above 1 they come faster "
                  "and their gaps shrink accordingly."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--site", default="demo", help=_l("restaurant site (default: demo)"))
    parser.add_argument("--hall-site", help=_l("business-hall site (default: SITE-hall)"))
    parser.add_argument("--tables", type=int, default=8, help=_l("restaurant tables, 0 for none (default: 8)"))
    parser.add_argument("--counters", type=int, default=3, help=_l("business-hall counters, 0 for none (default: 3)"))
    parser.add_argument("--speed", type=float, default=1.0, help=_l("time acceleration (default: 1 = real time)"))
    parser.add_argument("--duration", type=float,
                        help=_l("stop after this many wall-clock seconds (default: run until Ctrl-C)"))
    parser.add_argument("--max-events", type=int, help=_l("stop after about this many events"))
    parser.add_argument("--seed", type=int, help=_l("random seed, for a repeatable floor"))
    parser.add_argument("--mqtt-url", help=_l("broker URL (default: $MONITOR_MQTT_URL or mqtt://127.0.0.1:1883)"))
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=_l("MQTT topic prefix (default: %(default)s)"))
    parser.add_argument("--progress-every", type=int, default=50, metavar="N",
                        help=_l("a progress line per N events (0: none)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_terminal_language()
    parser = build_parser()
    args = parser.parse_args(argv)
    options = SimOptions(
        site=args.site, hall_site=args.hall_site, tables=args.tables, counters=args.counters,
        speed=args.speed, duration=args.duration, max_events=args.max_events, seed=args.seed,
        mqtt_url=args.mqtt_url, prefix=args.prefix, progress_every=args.progress_every,
    )
    try:
        options.check()
    except ValueError as exc:
        parser.error(str(exc))
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    # SIGTERM (how `monitor run` stops it) and Ctrl-C end the run the same way: open cases closed.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stats = run(options, stop=stop, progress=say)
    except SendError as exc:
        say(f"simulate: transport failed: {exc}")
        return 1
    say(stats.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
