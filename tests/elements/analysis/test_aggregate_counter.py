"""AggregateCounter."""
import struct

import pytest

from clickpy.runtime.handlers import HandlerError
from support import build_router, run_config

AGGS = "!data aggregate\n1\n1\n0\n0\n0\n2\n3\n2\n"


def agg_router(tmp_path, dump, counter_args=""):
    f = tmp_path / "in.txt"
    f.write_text(dump)
    return build_router(f"FromIPSummaryDump({f}, STOP true) -> a :: AggregateCounter({counter_args}) -> Discard")


def read_lines(path):
    return path.read_text().splitlines()


def test_text_file_counts_in_aggregate_order(tmp_path):
    r = agg_router(tmp_path, AGGS)
    r.run()
    r.write("a.write_text_file", str(tmp_path / "out"))
    assert read_lines(tmp_path / "out") == ["!IPAggregate 1.0", "!num_nonzero 4", "0 3", "1 2", "2 2", "3 1"]
    assert r.read("a.count") == "8"
    assert r.read("a.nagg") == "4"
    r.cleanup()


def test_sorted_output_for_spread_aggregates(tmp_path):
    values = [4000000000, 7, 1 << 31, 7, 0, 65536, 3, 4000000000, 12345678]
    r = agg_router(tmp_path, "!data aggregate\n" + "".join(f"{v}\n" for v in values))
    r.run()
    r.write("a.write_text_file", str(tmp_path / "out"))
    body = read_lines(tmp_path / "out")[2:]
    expect = sorted({v: values.count(v) for v in values}.items())
    assert body == [f"{a} {c}" for a, c in expect]
    r.write("a.write_ip_file", str(tmp_path / "ip"))
    assert read_lines(tmp_path / "ip")[2] == "!ip"
    assert "128.0.0.0 1" in read_lines(tmp_path / "ip")
    r.write("a.write_file", str(tmp_path / "bin"))
    data = (tmp_path / "bin").read_bytes()
    head, _, packed = data.partition(b"!packed_le\n")
    assert struct.unpack(f"<{2 * len(expect)}I", packed) == tuple(x for pair in expect for x in pair)
    r.write("a.write_pdf_file", str(tmp_path / "pdf"))
    assert read_lines(tmp_path / "pdf")[-1] == "4000000000 0.222222222222"
    r.cleanup()


def test_bytes_and_multipacket(tmp_path):
    dump = "!data aggregate ip_len count\n1 100 2\n1 50 1\n2 40 1\n"
    r = agg_router(tmp_path, dump, "BYTES true")
    r.run()
    r.write("a.write_text_file", str(tmp_path / "out"))
    assert read_lines(tmp_path / "out")[2:] == ["1 150", "2 40"]
    r.cleanup()
    r = agg_router(tmp_path, dump)
    r.run()
    assert r.read("a.count") == "4"   # the 'count 2' line counts twice
    r.cleanup()
    r = agg_router(tmp_path, dump, "MULTIPACKET false")
    r.run()
    assert r.read("a.count") == "3"
    r.cleanup()


def test_freeze_and_second_output(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(AGGS)
    r = run_config(f"FromIPSummaryDump({f}, STOP true) -> a :: AggregateCounter(AGGREGATE_FREEZE 2) "
                   f"-> c0 :: Counter -> Discard; a[1] -> c1 :: Counter -> Discard",
                   "-h", "c0.count", "-h", "c1.count", "-h", "a.nagg", "-h", "a.freeze")
    assert r.returncode == 0, r.stderr
    # aggregates 1 and 0 are counted; 2 and 3 arrive frozen and leave on output 1
    assert r.stdout.split() == ["c0.count:", "5", "c1.count:", "3", "a.nagg:", "2", "a.freeze:", "true"]


def test_calls_and_stops(tmp_path):
    r = agg_router(tmp_path, AGGS, "COUNT_STOP 3")
    r.run()
    assert r.read("a.count") == "3"
    assert r.read("a.active") == "false"
    r.cleanup()
    r = agg_router(tmp_path, AGGS, "AGGREGATE_CALL 3 a.active false")
    assert r.read("a.aggregate_call") == "3 a.active false"
    r.run()
    assert r.read("a.nagg") == "3"
    r.cleanup()
    bad = run_config("Idle -> AggregateCounter(COUNT_STOP 1, COUNT_FREEZE 2) -> Discard")
    assert bad.returncode != 0 and "mutually exclusive" in bad.stderr
    bad = run_config("Idle -> AggregateCounter(COUNT_CALL x y) -> Discard")
    assert bad.returncode != 0 and "COUNT_CALL first word should be unsigned" in bad.stderr


def test_counts_pdf_and_clear_and_banner(tmp_path):
    r = agg_router(tmp_path, AGGS, "BANNER \"!generator test\"")
    r.run()
    r.write("a.counts_pdf", "")
    r.write("a.write_text_file", str(tmp_path / "out"))
    lines = read_lines(tmp_path / "out")
    assert lines[:2] == ["!IPAggregate 1.0", "!generator test"]
    counts = dict(line.split() for line in lines[3:])
    # old counts 3, 2, 2, 1: count 2 occurs twice, 1 and 3 once; empty trie nodes count as 0s
    assert counts["1"] == "1" and counts["2"] == "2" and counts["3"] == "1"
    r.write("a.clear", "")
    assert r.read("a.count") == "0" and r.read("a.nagg") == "0"
    r.write("a.banner", "new")
    assert r.read("a.banner") == "new\n"
    with pytest.raises(HandlerError):
        r.write("a.freeze", "maybe")
    with pytest.raises(HandlerError):
        r.write("a.write_text_file", str(tmp_path / "no" / "dir" / "f"))
    r.cleanup()


def test_write_to_standard_output(tmp_path, capsys):
    r = agg_router(tmp_path, AGGS)
    r.run()
    capsys.readouterr()
    r.write("a.write_text_file", "-")
    assert capsys.readouterr().out.splitlines()[2:] == ["0 3", "1 2", "2 2", "3 1"]
    r.cleanup()


def test_pull_and_two_inputs(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(AGGS)
    # input 1 is always frozen: aggregates it brings are not counted unless known
    r = run_config(f"FromIPSummaryDump({f}, STOP true) -> a :: AggregateCounter -> Discard; "
                   f"InfiniteSource(LIMIT 3) -> [1]a[1] -> c :: Counter -> Discard",
                   "-h", "a.count", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    counts = r.stdout.split()
    assert counts[0] == "a.count:" and counts[2] == "c.count:"
    # the InfiniteSource packets have aggregate 0: counted once 0 is known, else sent to output 1
    assert int(counts[1]) + int(counts[3]) == 8 + 3
    r = run_config(f"FromIPSummaryDump({f}, STOP true) -> Queue -> a :: AggregateCounter -> Unqueue -> Discard",
                   "-h", "a.count")
    assert r.stdout.strip() == "8"
