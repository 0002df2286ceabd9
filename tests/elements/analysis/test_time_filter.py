"""TimeFilter."""
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


def test_absolute_range(tmp_path):
    r = run_dump(tmp_path, "TimeFilter(START 0.15, END 1.2)")
    assert stamps(r) == ["0.200000", "1.000000"]


def test_relative_range_and_rejects_on_output_1(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(DUMP)
    r = run_config(f"FromIPSummaryDump({f}, STOP true) -> t :: TimeFilter(START_AFTER 0.1, INTERVAL 1) "
                   f"-> ToIPSummaryDump(-, FIELDS timestamp, HEADER false); t[1] -> c :: Counter -> Discard",
                   "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0.200000", "1.000000", "3"]


def test_end_after(tmp_path):
    r = run_dump(tmp_path, "TimeFilter(END_AFTER 1)")
    assert stamps(r) == ["0.100000", "0.200000", "1.000000"]


def test_start_delay_and_end_delay_are_relative_to_the_start_time(tmp_path):
    # under --simtime the router starts at 1,000,000,000 s
    dump = "!data timestamp\n999999999\n1000000001\n1000000003\n"
    r = run_dump(tmp_path, "TimeFilter(START_DELAY 0.5, END_DELAY 2)", "--simtime", dump=dump)
    assert stamps(r) == ["1000000001.000000"]


def test_stop_ends_the_run(tmp_path):
    r = run_dump(tmp_path, "TimeFilter(END 1, STOP true)")
    assert r.returncode == 0, r.stderr
    assert stamps(r) == ["0.100000", "0.200000"]


def test_end_call_gets_the_timestamp_and_may_extend(tmp_path):
    # each time the end is reached, the handler moves it one second later,
    # as many times as it takes to pass the packet (5.5: ends 3, 4, 5, 6)
    r = run_dump(tmp_path, "t :: TimeFilter(END 1, END_CALL t.extend_interval 1)", "-h", "t.end")
    assert stamps(r) == ["0.100000", "0.200000", "1.000000", "1.200000", "5.500000", "6.000000"]
    r = run_dump(tmp_path, "t :: TimeFilter(END 1, END_CALL t.end $t)")
    # 't.end $t' sets the end to the packet's own time: it stays out, later ones too
    assert stamps(r) == ["0.100000", "0.200000"]


def test_batches_give_the_per_packet_result(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(DUMP)
    r = run_config(f"FromIPSummaryDump({f}, STOP true) -> q :: Queue -> Unqueue(BURST 8) "
                   f"-> TimeFilter(START 0.15, END 1.2) -> ToIPSummaryDump(-, FIELDS timestamp, HEADER false)")
    assert r.stdout.split() == ["0.200000", "1.000000"]


def test_exclusive_arguments():
    r = run_config("Idle -> TimeFilter(START 1, START_AFTER 1) -> Discard")
    assert r.returncode != 0 and "mutually exclusive" in r.stderr
    r = run_config("Idle -> TimeFilter(END 1, INTERVAL 1) -> Discard")
    assert r.returncode != 0 and "mutually exclusive" in r.stderr
    r = run_config("Idle -> TimeFilter(STOP true, END_CALL stop) -> Discard")
    assert r.returncode != 0 and "END_CALL and STOP are mutually exclusive" in r.stderr


def test_handlers():
    r = build_router("Idle -> t :: TimeFilter(START 2, END 5) -> Discard")
    assert r.read("t.start") == "2.000000"
    assert r.read("t.end") == "5.000000"
    assert r.read("t.interval") == "3.000000"
    r.write("t.interval", "10")
    assert r.read("t.end") == "12.000000"
    r.write("t.extend_interval", "0.5")
    assert r.read("t.end") == "12.500000"
    with pytest.raises(HandlerError):
        r.write("t.end", "later")
    r.cleanup()
