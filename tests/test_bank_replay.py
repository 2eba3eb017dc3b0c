"""Issue 8: the bank call-centre month, replayed into the real service, judged as the file says.

Expected counts come straight from the file's own columns — ``q_start`` (0:00:00 = never
queued), ``q_time`` (seconds in the queue) and ``outcome`` — independently of the converter.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from monitor.store.models import ClockRow, EventRow
from sensors.replay import ReplayOptions, replay_file
from sensors.widelog import BANK_FEB1999, BANK_FEB1999_TZ, convert_file
from tests.conftest import ROOT_DIR
from tests.harness.processes import ADMIN
from tests.harness.service import Service

pytestmark = pytest.mark.slow
BANK = ROOT_DIR.parent / "shared" / "data" / "anonymous_bank_feb1999.tsv"
CALL_CENTRE = ROOT_DIR / "standards" / "examples"


def expected_from_file(path: Path) -> Counter:
    """met / missed / cancelled / breached of 'answer a queued call within 60 s', per the file."""
    counts: Counter = Counter()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["q_start"] == "0:00:00":
                continue  # never queued: no clock
            if row["outcome"] == "AGENT":
                counts["met" if int(row["q_time"]) <= 60 else "missed"] += 1
            elif row["outcome"] == "HANG":
                counts["cancelled"] += 1
            else:
                counts["breached"] += 1  # queued, never answered nor abandoned: still open
    return counts


@pytest.fixture
def bank_csv(tmp_path) -> Path:
    if not BANK.exists():
        pytest.skip(f"{BANK} is not there (it ships in ../shared/data)")
    out = tmp_path / "bank_feb1999.csv"
    convert_file(BANK, BANK_FEB1999, out)
    return out


def test_the_bank_month_replayed_gives_the_files_own_counts_and_a_replay_again_stores_nothing(
        tmp_path, mosquitto, bank_csv):
    service = Service(tmp_path, mosquitto.url, standards=CALL_CENTRE, client_id="bank").start()
    try:
        options = ReplayOptions(tz=BANK_FEB1999_TZ, site="bank", attrs=["server", "priority", "call_type"],
                                to="http", url=service.url, token=ADMIN, batch=1000)
        first = replay_file(bank_csv, options)
        assert first.skips.counts == Counter() and first.sent == first.read
        again = replay_file(bank_csv, options)
        assert again.monitor.accepted == 0 and again.monitor.duplicates == first.sent
    finally:
        service.stop()

    engine = create_engine(service.env["MONITOR_DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(EventRow))
        states = Counter(dict(connection.execute(
            select(ClockRow.state, func.count()).where(ClockRow.standard_id == "answer-queued-call")
            .group_by(ClockRow.state)).all()))
    engine.dispose()
    assert stored == first.sent
    expected = expected_from_file(BANK)
    assert states == expected, (states, expected)
