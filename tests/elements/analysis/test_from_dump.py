"""FromDump: reading pcap files (round trips through ToDump), handlers, timing, malformed files."""
import gzip
import struct

import pytest
import clickpy
from clickpy.runtime.handlers import HandlerError
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, wrpcap
from scapy.layers.l2 import CookedLinux, Dot1Q

from clickpy.elements.analysis import pcap_format as pcap
from support import REPO, build_router, run_config, run_for

NS = 1_000_000_000


def mixed_packets():
    """A few real frames of several kinds, with distinct timestamps."""
    pkts = [
        Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb") / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, flags="S"),
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=1234, flags="SA") / Raw(b"x" * 100),
        Ether() / IP(src="192.168.1.1", dst="8.8.8.8") / UDP(sport=5353, dport=53) / Raw(b"query"),
        Ether() / IP(src="1.2.3.4", dst="5.6.7.8") / ICMP(),
        Ether(type=0x0806) / Raw(b"\x00" * 28),          # not IP
        Ether() / Dot1Q(vlan=5) / IP(src="9.9.9.9", dst="8.8.4.4") / UDP(sport=1, dport=2),
    ]
    for i, p in enumerate(pkts):
        p.time = 1000 + i * 0.25
    return pkts


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_round_trip_is_byte_identical(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true) -> c :: Counter -> ToDump({tmp_path}/out.pcap, SNAPLEN 65535)",
                   "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "6"
    assert (tmp_path / "out.pcap").read_bytes() == src.read_bytes()


def test_round_trip_of_a_generated_benchmark_trace(tmp_path, shared_dir):
    import subprocess
    import sys

    src = tmp_path / "fw.pcap"
    subprocess.run([sys.executable, str(shared_dir / "bench" / "gen_pcap.py"), "fw", str(src), "3000"], check=True)
    r = run_config(f"FromDump({src}, STOP true) -> c :: Counter -> ToDump({tmp_path}/out.pcap, SNAPLEN 65535)",
                   "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3000"
    assert (tmp_path / "out.pcap").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("byteorder,nano", [("<", False), (">", False), ("<", True), (">", True)])
def test_both_byte_orders_and_nanosecond_files(tmp_path, byteorder, nano):
    recs = [(1_500_000_000 * NS + 123_456_789, bytes(range(60))), (1_500_000_001 * NS, bytes(70))]
    data = pcap.file_header(1, 65535, nano, byteorder) + b"".join(pcap.record(t, d, None, nano, byteorder) for t, d in recs)
    f = write(tmp_path / "f.pcap", data)
    r = run_config(f"FromDump({f}, STOP true) -> ToIPSummaryDump(-, FIELDS ntimestamp wire_len, HEADER false)")
    assert r.returncode == 0, r.stderr
    first = "1500000000.123456789" if nano else "1500000000.123456"
    assert r.stdout.splitlines() == [f"{first} 60", "1500000001.000000 70"]


def test_nano_output_keeps_nanoseconds(tmp_path):
    recs = [(7 * NS + 5, bytes(20))]
    f = write(tmp_path / "f.pcap", pcap.file_header(1, 65535, True) + pcap.record(recs[0][0], recs[0][1], None, True))
    r = run_config(f"FromDump({f}, STOP true) -> ToDump({tmp_path}/o.pcap, NANO true)")
    assert r.returncode == 0, r.stderr
    linktype, nano, out = pcap.read_records((tmp_path / "o.pcap").read_bytes())
    assert nano and out[0][0] == 7 * NS + 5


def test_force_ip_marks_headers_and_sends_others_to_output_1(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"f :: FromDump({src}, STOP true, FORCE_IP true) "
                   f"-> ToIPSummaryDump(-, FIELDS ip_src ip_dst ip_proto sport dport, HEADER false); "
                   f"f[1] -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["10.0.0.1 10.0.0.2 T 1234 80", "10.0.0.2 10.0.0.1 T 80 1234",
                         "192.168.1.1 8.8.8.8 U 5353 53", "1.2.3.4 5.6.7.8 I - -", "9.9.9.9 8.8.4.4 U 1 2"]
    assert lines[5] == "1"  # the ARP frame


@pytest.mark.parametrize("encap,layer", [("SLL", "sll"), ("IP", "raw"), ("NULL", "null")])
def test_other_link_types(tmp_path, encap, layer):
    ip = IP(src="3.3.3.3", dst="4.4.4.4") / UDP(sport=7, dport=9)
    if layer == "sll":
        frame, dlt = bytes(CookedLinux(proto=0x0800) / ip), pcap.DLT_LINUX_SLL
    elif layer == "raw":
        frame, dlt = bytes(ip), pcap.DLT_RAW
    else:
        frame, dlt = struct.pack("<I", 2) + bytes(ip), pcap.DLT_NULL
    f = write(tmp_path / "f.pcap", pcap.file_header(dlt) + pcap.record(NS, frame))
    # raw IP files are always forced to IP
    force = "" if layer == "raw" else ", FORCE_IP true"
    r = run_config(f"fd :: FromDump({f}, STOP true{force}) -> ToIPSummaryDump(-, FIELDS ip_src dport, HEADER false)",
                   "-h", "fd.encap")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["3.3.3.3 9", encap]


def test_handlers(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    size = src.stat().st_size
    r = run_config(f"fd :: FromDump({src}, STOP true) -> Discard",
                   "-h", "fd.count", "-h", "fd.filesize", "-h", "fd.filepos", "-h", "fd.encap",
                   "-h", "fd.filename", "-h", "fd.active", "-h", "fd.sampling_prob", "-h", "fd.packet_filepos")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "fd.count:\n6\n" in text
    assert f"fd.filesize:\n{size}\n" in text
    assert f"fd.filepos:\n{size}\n" in text
    assert "fd.encap:\nETHER\n" in text
    assert f"fd.filename:\n{src}\n" in text
    assert "fd.active:\nfalse\n" in text     # STOP deactivates
    assert "fd.sampling_prob:\n1\n" in text
    assert "fd.packet_filepos:\n" in text


def test_filepos_write_rereads_the_file(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = build_router(f"fd :: FromDump({src}, STOP true) -> c :: Counter -> Discard")
    r.run()
    assert r.read("c.count") == "6"
    assert r.read("fd.active") == "false"
    r.write("fd.filepos", "24")
    assert r.read("fd.filepos") == "24"
    r.write("fd.active", "true")
    r.scheduler.set_runcount(1)
    r.run()
    assert r.read("c.count") == "12"
    with pytest.raises(HandlerError):
        r.write("fd.filepos", str(src.stat().st_size + 100))
    with pytest.raises(HandlerError):
        r.write("fd.filepos", "minus one")
    r.cleanup()


def test_start_end_and_interval(tmp_path):
    recs = [(t * NS, bytes(40)) for t in (10, 11, 12, 13, 14, 15)]
    f = write(tmp_path / "f.pcap", pcap.file_header(1) + b"".join(pcap.record(t, d) for t, d in recs))
    fields = "-> ToIPSummaryDump(-, FIELDS ts_sec, HEADER false)"
    r = run_config(f"FromDump({f}, STOP true, START 11, END 14) {fields}")
    assert r.stdout.split() == ["11", "12", "13"], r.stderr
    r = run_config(f"FromDump({f}, STOP true, START_AFTER 1, END_AFTER 3) {fields}")
    assert r.stdout.split() == ["11", "12"], r.stderr
    r = run_config(f"FromDump({f}, STOP true, START_AFTER 2, INTERVAL 2) {fields}")
    assert r.stdout.split() == ["12", "13"], r.stderr
    r = run_config(f"FromDump({f}, START 11, START_AFTER 1) -> Discard")
    assert r.returncode != 0 and "mutually exclusive" in r.stderr


def test_sample_zero_emits_nothing(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true, SAMPLE 0) -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0
    assert r.stdout.strip() == "0"
    assert "SAMPLE probability is 0" in r.stderr


class AnalysisTestSink(clickpy.Element):
    """Records when (router time), and what, each packet arrives."""

    port_count = "1/0"
    processing = "h"

    def __init__(self):
        self.seen = []

    def push(self, port, packet):
        self.seen.append((self.router.scheduler.now(), packet.timestamp, bytes(packet)))
        packet.kill()


@pytest.mark.parametrize("pull", [False, True])
def test_timing_in_simulated_time(tmp_path, pull):
    recs = [(t, bytes(60)) for t in (5 * NS, 5 * NS + NS // 2, 8 * NS)]
    f = write(tmp_path / "f.pcap", pcap.file_header(1) + b"".join(pcap.record(t, d) for t, d in recs))
    middle = "-> Unqueue" if pull else ""
    r = build_router(f"FromDump({f}, STOP true, TIMING true) {middle} -> s :: AnalysisTestSink", simulated=True)
    start = r.scheduler.now()
    r.run()
    seen = r.element("s").seen
    assert [ts for _, ts, _ in seen] == [5 * NS, 5 * NS + NS // 2, 8 * NS]
    # emitted at the recorded pace: 0 s, 0.5 s and 3 s after the start
    assert [now - start for now, _, _ in seen] == [0, NS // 2, 3 * NS]
    r.cleanup()


@pytest.mark.parametrize("pull", [False, True])
def test_timing_in_real_time_emits_every_packet_and_stops(tmp_path, pull):
    # Each packet is released by FromDump's timer waking its task (or its
    # puller); nothing else keeps the driver awake between them.
    recs = [(5 * NS + k * NS // 50, bytes(60)) for k in range(4)]
    f = write(tmp_path / "f.pcap", pcap.file_header(1) + b"".join(pcap.record(t, d) for t, d in recs))
    middle = "-> Unqueue" if pull else ""
    r = run_config(f"FromDump({f}, STOP true, TIMING true) {middle} -> c :: Counter -> Discard", "-h", "c.count")
    assert (r.returncode, r.stdout.strip()) == (0, "4"), r.stderr


def test_pull_output(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true) -> Unqueue -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "6"


def test_into_a_queue_nothing_is_lost(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets() * 20)
    r = run_config(f"FromDump({src}, STOP true) -> q :: Queue(5) -> ToIPSummaryDump(-, FIELDS ip_src, HEADER false)",
                   "-h", "q.drops")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "0"
    assert len(lines) - 1 == 120


def test_compressed_and_stdin(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    gz = tmp_path / "in.pcap.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    r = run_config(f"fd :: FromDump({gz}, STOP true) -> c :: Counter -> Discard", "-h", "c.count", "-h", "fd.filesize")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["c.count:", "6", "fd.filesize:", "-"]
    p = subprocess.run([sys.executable, "-m", "clickpy", "run", "-e",
                        "FromDump(-, STOP true) -> c :: Counter -> Discard", "-h", "c.count"],
                       input=src.read_bytes(), capture_output=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == b"6"


def test_end_call(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    # END_CALL instead of STOP: here the router's own 'stop' handler
    r = run_config(f"fd :: FromDump({src}, END_CALL stop) -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "6"
    r = run_config(f"fd :: FromDump({src}, END_CALL nosuch.handler) -> Discard")
    assert r.returncode != 0 and "END_CALL" in r.stderr


def test_end_time_deactivates(tmp_path):
    recs = [(t * NS, bytes(40)) for t in (10, 11, 12)]
    f = write(tmp_path / "f.pcap", pcap.file_header(1) + b"".join(pcap.record(t, d) for t, d in recs))
    r = build_router(f"fd :: FromDump({f}, END 11) -> c :: Counter -> Discard", simulated=True)
    run_for(r, 1.0)
    assert r.read("c.count") == "1"
    assert r.read("fd.active") == "false"
    r.write("fd.extend_interval", "1")
    assert r.read("fd.active") == "true"
    r.cleanup()


def test_end_call_and_stop_are_exclusive(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true, END_CALL c.reset_counts) -> c :: Counter -> Discard")
    assert r.returncode != 0
    assert "END_CALL and STOP are mutually exclusive" in r.stderr


# --- malformed files ------------------------------------------------------------------


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "not a tcpdump file (too short)"),
    (b"\x00" * 40, "not a tcpdump file (bad magic number)"),
    (struct.pack("<IHHiIII", pcap.MAGIC, 9, 4, 0, 0, 65535, 1), "unknown major version 9"),
])
def test_bad_files_fail_to_initialize(tmp_path, content, message):
    f = write(tmp_path / "bad.pcap", content)
    r = run_config(f"FromDump({f}, STOP true) -> Discard")
    assert r.returncode != 0
    assert f"{f}: {message}" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_file(tmp_path):
    r = run_config(f"FromDump({tmp_path}/nope.pcap) -> Discard")
    assert r.returncode != 0
    assert "nope.pcap: No such file or directory" in r.stderr


def test_truncated_record_names_the_offset(tmp_path):
    data = pcap.file_header(1) + pcap.record(NS, bytes(60)) + pcap.record(2 * NS, bytes(60))[:30]
    f = write(tmp_path / "t.pcap", data)
    r = run_config(f"FromDump({f}, STOP true) -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0
    assert r.stdout.strip() == "1"
    assert f"{f}: truncated packet data at byte offset 100" in r.stderr
    assert "Traceback" not in r.stderr


def test_truncated_record_header_names_the_offset(tmp_path):
    data = pcap.file_header(1) + pcap.record(NS, bytes(60)) + b"\x01\x02\x03"
    f = write(tmp_path / "t.pcap", data)
    r = run_config(f"FromDump({f}, STOP true) -> c :: Counter -> Discard", "-h", "c.count")
    assert r.stdout.strip() == "1"
    assert f"{f}: truncated record header at byte offset 100" in r.stderr


def test_corrupt_record_length(tmp_path):
    data = pcap.file_header(1) + struct.pack("<IIII", 1, 0, 1 << 30, 1 << 30) + bytes(100)
    f = write(tmp_path / "t.pcap", data)
    r = run_config(f"FromDump({f}, STOP true) -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0
    assert r.stdout.strip() == "0"
    assert "bad packet header at byte offset 24" in r.stderr


def test_short_frames_with_force_ip_do_not_crash(tmp_path):
    frames = [b"", b"\x00", bytes(13), bytes(14), bytes(12) + b"\x08\x00" + b"\x45", bytes(12) + b"\x08\x00" + b"\x4f" + bytes(19)]
    f = write(tmp_path / "s.pcap", pcap.file_header(1) + b"".join(pcap.record(NS, d) for d in frames))
    r = run_config(f"fd :: FromDump({f}, STOP true, FORCE_IP true) -> a :: Counter -> Discard; fd[1] -> b :: Counter -> Discard",
                   "-h", "a.count", "-h", "b.count")
    assert r.returncode == 0, r.stderr
    assert "a.count:\n0\n" in r.stdout and "b.count:\n6\n" in r.stdout


def test_sampling_follows_random_seed():
    # SAMPLE draws from the generator RandomSeed seeds, so a seeded run repeats exactly
    trace = REPO / "configs" / "traces" / "mixed.pcap"
    config = f"RandomSeed(7); FromDump({trace}, SAMPLE 0.5, STOP true) -> c :: Counter -> Discard"
    counts = {run_config(config, "-h", "c.count").stdout for _ in range(2)}
    assert len(counts) == 1
    n = int(counts.pop())
    assert 0.4 * 964 < n < 0.6 * 964
