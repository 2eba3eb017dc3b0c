"""sensors.widelog: wide call-centre logs → long event rows, checked on the real bank month."""
from __future__ import annotations

import csv
import io
import shlex
from collections import Counter
from pathlib import Path

import pytest

import sensors.replay as replay_cli
import sensors.widelog as widelog

from sensors.publisher import SendResult
from sensors.replay import UsageError, replay_file
from sensors.widelog import (
    BANK_FEB1999,
    ConvertStats,
    Step,
    When,
    WideMapping,
    build_parser,
    convert,
    main,
    mapping_from_args,
    parse_when,
    write_long_csv,
)

BANK = Path("/work/shared/data/anonymous_bank_feb1999.tsv")
NEVER = "0:00:00"

# Exactly the arguments of the worked example in sensors/widelog.py's docstring.
BANK_ARGS = [
    "--case-col", "vru+line,call_id", "--date-col", "date", "--date-format", "%y%m%d",
    "--anchor-col", "vru_entry", "--null", NEVER, "--step", "q_start=call_queued",
    "--when", "outcome=AGENT:call_answered@q_exit", "--when", "outcome=HANG:call_abandoned@q_exit",
    "--attrs", "server,priority,type=call_type",
]

needs_bank = pytest.mark.skipif(not BANK.exists(), reason="bank data file not present")


def bank_mapping() -> WideMapping:
    return mapping_from_args(build_parser().parse_args([str(BANK), *BANK_ARGS]))


def documented_command(module: str) -> list[str]:
    """The worked-example command for ``module`` as written in sensors/widelog.py's docstring."""
    text = widelog.__doc__.replace("\\\n", " ")
    line = next(l for l in text.splitlines() if l.strip().startswith(f"python -m {module} "))
    return shlex.split(line)[3:]


def test_the_documented_command_and_the_python_constant_agree():
    assert bank_mapping() == BANK_FEB1999
    documented = documented_command("sensors.widelog")
    assert documented[0] == str(BANK)
    assert mapping_from_args(build_parser().parse_args(documented)) == BANK_FEB1999


@pytest.fixture(scope="module")
def bank_head(tmp_path_factory) -> Path:
    """The header and first 2000 calls, bytes untouched (tabs, CRLF)."""
    path = tmp_path_factory.mktemp("bank") / "bank_head.tsv"
    with BANK.open("rb") as source:
        path.write_bytes(b"".join(source.readline() for _ in range(2001)))
    return path


def wide_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@needs_bank
def test_bank_mapping_counts_match_the_file(bank_head):
    rows = wide_rows(bank_head)
    assert len(rows) == 2000
    queued = [r for r in rows if r["q_start"] != NEVER]
    expected = Counter(
        call_queued=len(queued),
        call_answered=sum(r["outcome"] == "AGENT" for r in queued),
        call_abandoned=sum(r["outcome"] == "HANG" for r in queued),
    )
    assert min(expected.values()) > 100  # the sample really has all three kinds

    stats = ConvertStats()
    long_rows = list(convert(bank_head, bank_mapping(), stats))

    assert Counter(r["type"] for r in long_rows) == expected
    assert stats.events == expected and stats.rows == 2000 and stats.skips.total == 0
    # one case per queued call, and a case never both answered and abandoned
    assert len({r["case"] for r in long_rows}) == len(queued)
    outcomes = Counter((r["case"], r["type"]) for r in long_rows if r["type"] != "call_queued")
    assert len({case for case, _ in outcomes}) == sum(outcomes.values())


@needs_bank
def test_bank_rows_carry_times_and_attrs(bank_head):
    long_rows = list(convert(bank_head, bank_mapping()))
    first_two = long_rows[:2]  # AA0101 call 34539: queued 8:09:22, hung up 8:09:27
    assert first_two == [
        {"case": "AA0101/34539", "type": "call_queued", "at": "1999-02-01T08:09:22",
         "server": "NO_SERVER", "priority": "2", "call_type": "PS"},
        {"case": "AA0101/34539", "type": "call_abandoned", "at": "1999-02-01T08:09:27",
         "server": "NO_SERVER", "priority": "2", "call_type": "PS"},
    ]


@needs_bank
def test_call_id_alone_is_not_a_case(bank_head):
    """Why the example joins vru+line and call_id: ids repeat across lines in the month."""
    with BANK.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len({r["call_id"] for r in rows}) < len(rows)
    assert len({(r["vru+line"], r["call_id"]) for r in rows}) == len(rows)


HEADER = "vru+line\tcall_id\tdate\tvru_entry\tq_start\tq_exit\toutcome\tserver\tpriority\ttype\r\n"


def bank_like(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "calls.tsv"
    path.write_text(HEADER + "".join(line + "\r\n" for line in lines), encoding="utf-8")
    return path


def test_times_after_midnight_belong_to_the_next_day(tmp_path):
    path = bank_like(
        tmp_path,
        # real rows of the month: queued before midnight, left the queue after it
        "AA0105\t35608\t990210\t23:59:19\t23:59:29\t0:00:26\tHANG\tNO_SERVER\t0\tNW",
        # queued at exactly midnight, recorded as 0:00:00: answered, but never "queued"
        "AA0102\t31056\t990215\t23:59:54\t0:00:00\t0:00:27\tAGENT\tAVNI\t2\tPS",
        # queue start a minute before the VRU entry: clock skew, same day
        "AA0101\t1\t990201\t15:56:16\t15:53:04\t15:55:00\tAGENT\tDORIT\t0\tPS",
        # February 28 → March 1 in 1999 (no leap year)
        "AA0101\t2\t990228\t23:58:00\t23:58:10\t0:01:00\tAGENT\tDORIT\t0\tPS",
    )
    rows = [(r["case"], r["type"], r["at"]) for r in convert(path, bank_mapping())]
    assert rows == [
        ("AA0105/35608", "call_queued", "1999-02-10T23:59:29"),
        ("AA0105/35608", "call_abandoned", "1999-02-11T00:00:26"),
        ("AA0102/31056", "call_answered", "1999-02-16T00:00:27"),
        ("AA0101/1", "call_queued", "1999-02-01T15:53:04"),
        ("AA0101/1", "call_answered", "1999-02-01T15:55:00"),
        ("AA0101/2", "call_queued", "1999-02-28T23:58:10"),
        ("AA0101/2", "call_answered", "1999-03-01T00:01:00"),
    ]


def test_malformed_wide_rows_are_skipped_and_counted(tmp_path):
    path = bank_like(
        tmp_path,
        "AA0101\t\t990201\t8:00:00\t8:00:05\t8:00:30\tAGENT\tDORIT\t0\tPS",  # no call id
        "AA0101\t7\t99-02-01\t8:00:00\t8:00:05\t8:00:30\tAGENT\tDORIT\t0\tPS",  # bad date
        "AA0101\t8\t990201\t8:00:00\tsoon\t8:00:30\tAGENT\tDORIT\t0\tPS",  # bad time: only that event
        "AA0101\t9\t990201\t8:00:00\t8:00:05\t8:00:30\tPHANTOM\tNO_SERVER\t0\tPS",  # queued only
    )
    stats = ConvertStats()
    rows = list(convert(path, bank_mapping(), stats))
    assert [(r["case"], r["type"]) for r in rows] == [
        ("AA0101/8", "call_answered"), ("AA0101/9", "call_queued")
    ]
    assert stats.skips.counts == {"missing case": 1, "unparseable date in date": 1, "unparseable time in q_start": 1}
    assert stats.skips.lines["missing case"] == [2]
    assert "skipped, missing case: 1 (line 2)" in stats.report()


def test_without_a_date_column_times_pass_through(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket,issued,called,done,status\n"
        "A001,2024-05-01 09:00:00,2024-05-01 09:04:00,2024-05-01 09:10:00,served\n"
        "A002,2024-05-01 09:01:00,,,walked\n",
        encoding="utf-8",
    )
    mapping = WideMapping(
        case_cols=["ticket"],
        steps=[Step("issued", "ticket_issued"), Step("called", "ticket_called"), Step("done", "service_done")],
        whens=[When("status", "walked", "ticket_abandoned", "issued")],
        attrs=[("status", "status")],
    )
    rows = [(r["case"], r["type"], r["at"]) for r in convert(path, mapping)]
    assert rows == [
        ("A001", "ticket_issued", "2024-05-01 09:00:00"),
        ("A001", "ticket_called", "2024-05-01 09:04:00"),
        ("A001", "service_done", "2024-05-01 09:10:00"),
        ("A002", "ticket_issued", "2024-05-01 09:01:00"),
        ("A002", "ticket_abandoned", "2024-05-01 09:01:00"),
    ]


def test_parse_when_allows_colons_in_the_value():
    assert parse_when("outcome=HANG:call_abandoned@q_exit") == When("outcome", "HANG", "call_abandoned", "q_exit")
    assert parse_when("end=0:00:00:no_exit@q_start") == When("end", "0:00:00", "no_exit", "q_start")


def test_mapping_errors_are_usage_errors(tmp_path):
    path = bank_like(tmp_path, "AA0101\t1\t990201\t8:00:00\t8:00:05\t8:00:30\tAGENT\tDORIT\t0\tPS")
    clash = WideMapping(case_cols=["call_id"], steps=[Step("q_start", "call_queued")], attrs=[("type", "type")])
    with pytest.raises(UsageError, match="clash"):
        convert(path, clash)
    missing = WideMapping(case_cols=["call_id"], steps=[Step("q_begin", "call_queued")])
    with pytest.raises(UsageError, match="q_begin"):
        convert(path, missing)
    assert main([str(path), "--case-col", "call_id"]) == 2  # no --step/--when


@needs_bank
def test_cli_output_replays_with_the_bank_timezone(bank_head, tmp_path, capsys):
    out = tmp_path / "bank_feb1999.csv"
    assert main([str(bank_head), "-o", str(out), *BANK_ARGS]) == 0
    assert "2000 rows read" in capsys.readouterr().err
    assert out.read_text().splitlines()[0] == "case,type,at,server,priority,call_type"

    class Recorder:
        events: list[dict] = []

        def send(self, events):
            self.events.extend(events)
            return SendResult(sent=len(events))

        def close(self):
            pass

    recorder = Recorder()
    documented = replay_cli.build_parser().parse_args(documented_command("sensors.replay"))
    options = replay_cli.options_from_args(documented)  # the docstring's replay command
    assert (options.tz, options.site, list(options.attrs)) == ("Asia/Jerusalem", "bank", ["server", "priority", "call_type"])
    summary = replay_file(out, options, sender=recorder)
    long_count = len(out.read_text().splitlines()) - 1
    assert summary.sent == long_count and summary.skipped == 0
    first = recorder.events[0]
    assert first["at"] == "1999-02-01T08:09:22+02:00"  # Israel standard time in February
    assert first["attrs"] == {"server": "NO_SERVER", "priority": "2", "call_type": "PS"}
    assert first["case"] == "AA0101/34539" and first["site"] == "bank"


def test_write_long_csv_quotes_what_needs_quoting():
    out = io.StringIO()
    count = write_long_csv([{"case": "a,b", "type": "seated", "at": "t", "note": 'say "hi"'}], out, ["note"])
    assert count == 1
    assert out.getvalue() == 'case,type,at,note\n"a,b",seated,t,"say ""hi"""\n'
