"""AdjustTimestamp."""
import pytest

from clickpy.runtime.handlers import HandlerError
from support import build_router, run_config

DUMP = "!data timestamp\n0.1\n0.2\n1.0\n1.2\n5.5\n"


def stamps(r):
    return [line for line in r.stdout.splitlines() if not line.startswith("!")]


def run_dump(tmp_path, middle, *args, dump=DUMP, fields="timestamp"):
    f = tmp_path / "in.txt"
    f.write_text(dump)
    return run_config(f"FromIPSummaryDump({f}, STOP true) -> {middle} -> ToIPSummaryDump(-, FIELDS {fields})", *args)


def test_adjust_timestamp(tmp_path):
    r = run_dump(tmp_path, "AdjustTimestamp(-1)")
    assert r.returncode == 0, r.stderr
    assert stamps(r) == ["-0.900000", "-0.800000", "0.000000", "0.200000", "4.500000"]
    r = run_dump(tmp_path, "AdjustTimestamp(250ms)")
    assert stamps(r) == ["0.350000", "0.450000", "1.250000", "1.450000", "5.750000"]


def test_zero_timestamps_are_left_alone_unless_all(tmp_path):
    dump = "!data timestamp\n0\n1\n"
    r = run_dump(tmp_path, "AdjustTimestamp(+1.5)", dump=dump)
    assert stamps(r) == ["0.000000", "2.500000"]
    r = run_dump(tmp_path, "AdjustTimestamp(+1.5, ALL true)", dump=dump)
    assert stamps(r) == ["1.500000", "2.500000"]


def test_adjust_first_timestamp(tmp_path):
    dump = "!data timestamp first_timestamp\n5 3\n6 0\n"
    r = run_dump(tmp_path, "AdjustTimestamp(1, FIRST true)", dump=dump, fields="timestamp first_timestamp")
    assert stamps(r) == ["5.000000 4.000000", "6.000000 0.000000"]


def test_adjust_timestamp_handler_and_errors():
    r = build_router("Idle -> a :: AdjustTimestamp(-2.5) -> Discard")
    assert r.read("a.time") == "-2.500000"
    r.write("a.time", "3")
    assert r.read("a.time") == "3.000000"
    with pytest.raises(HandlerError):
        r.write("a.time", "soon")
    r.cleanup()
    bad = run_config("Idle -> AdjustTimestamp(yesterday) -> Discard")
    assert bad.returncode != 0 and "TIME" in bad.stderr


def test_batches_give_the_per_packet_result():
    r = run_config("InfiniteSource(LIMIT 6, BURST 3, STOP true) -> AdjustTimestamp(2, ALL true) "
                   "-> ToIPSummaryDump(-, FIELDS timestamp, HEADER false)", "--simtime")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1000000002.000000"] * 6
