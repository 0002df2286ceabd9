"""FromIPSummaryDump (with ToIPSummaryDump to look at the packets it builds)."""
import pytest
from scapy.all import ICMP, IP, TCP, UDP, rdpcap

import clickpy
from support import build_router, run_config

ALL_FIELDS = ("timestamp ip_src ip_dst sport dport ip_proto ip_len ip_id ip_ttl ip_tos ip_frag ip_fragoff "
              "tcp_seq tcp_ack tcp_flags tcp_window tcp_urp tcp_opt payload_len count aggregate link "
              "first_timestamp")


def dump_lines(text):
    return [line for line in text.splitlines() if not line.startswith("!")]


def summarize(tmp_path, dump, fields, *, keywords="", out_keywords="", args=()):
    f = tmp_path / "in.txt"
    f.write_text(dump)
    return run_config(f"FromIPSummaryDump({f}, STOP true{keywords}) -> ToIPSummaryDump(-, FIELDS {fields}{out_keywords})",
                      *args)


def test_every_field_round_trips(tmp_path):
    dump = (f"!IPSummaryDump 1.3\n!data {ALL_FIELDS}\n"
            "1.000001 10.0.0.1 10.0.0.2 1234 80 T 100 7 64 16 ! 0! 1000 2000 SA 8192 5 mss1460;sackok;ts1:2 40 3 99 2 0.5\n"
            "2.500000 10.0.0.2 10.0.0.1 80 1234 U 60 8 32 0 . 0 - - - - - - 32 1 0 1 0\n"
            "3.000000 1.1.1.1 2.2.2.2 - - I 28 9 1 255 F 0+ - - - - - - 0 1 7 0 0\n")
    r = summarize(tmp_path, dump, ALL_FIELDS)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert dump_lines(r.stdout) == [
        "1.000001 10.0.0.1 10.0.0.2 1234 80 T 100 7 64 16 ! 0! 1000 2000 SA 8192 5 mss1460;sackok;ts1:2 40 3 99 2 0.500000",
        "2.500000 10.0.0.2 10.0.0.1 80 1234 U 60 8 32 0 . 0 - - - - - - 32 1 0 1 0.000000",
        "3.000000 1.1.1.1 2.2.2.2 - - I 28 9 1 255 F 0+ - - - - - - 0 1 7 0 0.000000",
    ]


def test_more_fields(tmp_path):
    dump = ("!data ip_src ip_dst ip_proto ip_hl ip_dscp ip_ecn tcp_off payload ip_opt eth_src eth_dst\n"
            '1.0.0.1 1.0.0.2 T 24 10 ce 24 "hello world" nop;nop;98=1:2 00-11-22-33-44-55 66:77:88:99:AA:BB\n')
    fields = ("ip_src ip_hl ip_dscp ip_ecn ip_tos tcp_off payload payload_len ip_opt eth_src eth_dst eth_type "
              "wire_len ip_capture_len")
    r = summarize(tmp_path, dump, fields)
    assert r.returncode == 0, r.stderr
    # the options need 28 bytes of IP header, more than ip_hl asked for
    assert dump_lines(r.stdout) == [
        '1.0.0.1 28 10 ce 43 24 "hello world" 11 98=1:2 00-11-22-33-44-55 66-77-88-99-AA-BB 0800 77 63']


def test_icmp_names_and_checksums(tmp_path):
    dump = "!data src dst icmp_type icmp_code icmp_flowid icmp_seq\n!proto I\n1.1.1.1 2.2.2.2 echo 0 5 6\n" \
           "2.2.2.2 1.1.1.1 unreachable needfrag - -\n"
    f = tmp_path / "in.txt"
    f.write_text(dump)
    r = run_config(f"FromIPSummaryDump({f}, STOP true, CHECKSUM true) -> ToDump({tmp_path}/o.pcap, ENCAP IP) "
                   f"-> ToIPSummaryDump(-, FIELDS icmp_type_name icmp_code_name icmp_flowid icmp_seq icmp_nextmtu)")
    assert r.returncode == 0, r.stderr
    assert dump_lines(r.stdout) == ["echo 0 5 6 -", "unreachable needfrag - - 0"]
    for p in rdpcap(str(tmp_path / "o.pcap")):
        ip = p[IP]
        want = (ip.chksum, ip[ICMP].chksum)
        del ip.chksum
        del ip[ICMP].chksum
        q = IP(bytes(ip))
        assert (q.chksum, q[ICMP].chksum) == want


@pytest.mark.parametrize("proto", ["T", "U"])
def test_transport_checksums_cover_the_whole_ip_length(tmp_path, proto):
    dump = f"!data src dst sport dport proto ip_len payload_len\n10.1.1.1 10.2.2.2 1000 2000 {proto} 80 -\n"
    f = tmp_path / "in.txt"
    f.write_text(dump)
    r = run_config(f"FromIPSummaryDump({f}, STOP true, CHECKSUM true) -> ToDump({tmp_path}/o.pcap, ENCAP IP)")
    assert r.returncode == 0, r.stderr
    (p,) = rdpcap(str(tmp_path / "o.pcap"))
    ip = p[IP]
    assert len(bytes(ip)) == ip.len == 80
    layer = TCP if proto == "T" else UDP
    want = (ip.chksum, ip[layer].chksum)
    del ip.chksum
    del ip[layer].chksum
    q = IP(bytes(ip))
    assert (q.chksum, q[layer].chksum) == want
    if proto == "U":
        assert q[UDP].len == 60


def test_ip_length_larger_than_headers_and_payload_grows_the_headers(tmp_path):
    # As Click does, the difference goes to TCP options, then IP options
    # (whose lengths the dump did not fix).
    r = summarize(tmp_path, '!data src proto ip_len payload\n1.0.0.1 T 50 "abc"\n1.0.0.1 U 40 "abc"\n',
                  "ip_len ip_hl tcp_off payload udp_len")
    assert dump_lines(r.stdout) == ['50 20 24 "abc" -', '40 28 - "abc" 12']


def test_short_packets_carry_extra_length(tmp_path):
    r = summarize(tmp_path, "!data src ip_len\n1.0.0.1 1500\n", "ip_len ip_capture_len wire_len payload_len")
    assert dump_lines(r.stdout) == ["1500 40 40 1460"]
    r = summarize(tmp_path, "!data src ip_len\n1.0.0.1 1500\n", "ip_len", out_keywords=", EXTRA_LENGTH false")
    assert dump_lines(r.stdout) == ["1500"]


def test_flowid_and_proto_lines(tmp_path):
    dump = "!flowid 9.9.9.9 11 8.8.8.8 22 U\n!data timestamp\n1\n2\n"
    r = summarize(tmp_path, dump, "src dst sport dport proto")
    assert r.returncode == 0, r.stderr
    assert dump_lines(r.stdout) == ["9.9.9.9 8.8.8.8 11 22 U"] * 2
    r = summarize(tmp_path, "!data timestamp\n1\n", "src sport proto", keywords=", FLOWID 1.1.1.1 5 2.2.2.2 6, PROTO 17")
    assert dump_lines(r.stdout) == ["1.1.1.1 5 U"]


def test_data_keyword_and_stdin(tmp_path):
    import subprocess
    import sys

    r = run_config('FromIPSummaryDump(DATA "!data src\n1.2.3.4\n5.6.7.8", STOP true) -> ToIPSummaryDump(-, FIELDS src)')
    assert dump_lines(r.stdout) == ["1.2.3.4", "5.6.7.8"]
    p = subprocess.run([sys.executable, "-m", "clickpy", "run", "-e",
                        "FromIPSummaryDump(-, STOP true) -> ToIPSummaryDump(-, FIELDS src, HEADER false)"],
                       input=b"!data src\n7.7.7.7\n", capture_output=True)
    assert p.stdout == b"7.7.7.7\n", p.stderr
    r = run_config(f'FromIPSummaryDump({tmp_path}/x, DATA "!data src") -> Discard')
    assert r.returncode != 0 and "FILENAME and DATA conflict" in r.stderr
    r = run_config('FromIPSummaryDump(STOP true) -> Discard')
    assert r.returncode != 0 and "FILENAME" in r.stderr


def test_multipacket_lines(tmp_path):
    dump = "!data timestamp first_timestamp src ip_len count\n4.0 1.0 1.0.0.1 400 4\n"
    r = summarize(tmp_path, dump, "timestamp src ip_len count", keywords=", MULTIPACKET true")
    assert r.returncode == 0, r.stderr
    assert dump_lines(r.stdout) == ["1.000000 1.0.0.1 100 1", "2.000000 1.0.0.1 100 1",
                                    "3.000000 1.0.0.1 100 1", "4.000000 1.0.0.1 100 1"]


def test_pull_output_and_handlers(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("!data src\n1.0.0.1\n1.0.0.2\n1.0.0.3\n")
    size = f.stat().st_size
    r = run_config(f"fs :: FromIPSummaryDump({f}, STOP true) -> Unqueue -> c :: Counter -> Discard",
                   "-h", "c.count", "-h", "fs.encap", "-h", "fs.filepos", "-h", "fs.sampling_prob", "-h", "fs.active")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["c.count:", "3", "fs.encap:", "IP", "fs.filepos:", str(size),
                                "fs.sampling_prob:", "1", "fs.active:", "true"]
    r = build_router(f"fs :: FromIPSummaryDump({f}, STOP true) -> Unqueue -> c :: Counter -> Discard")
    assert r.read("fs.filesize") == str(size)
    assert r.read("fs.filepos") == "0"
    r.cleanup()


def test_active_false_then_written(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("!data src\n1.0.0.1\n1.0.0.2\n")
    r = build_router(f"fs :: FromIPSummaryDump({f}, STOP true, ACTIVE false) -> c :: Counter -> Discard")
    assert r.read("fs.active") == "false"
    r.write("fs.active", "true")
    r.run()
    assert r.read("c.count") == "2"
    r.cleanup()


class AnalysisTestTimes(clickpy.Element):
    """Records the router time at which each packet arrives."""

    port_count = "1/0"
    processing = "h"

    def __init__(self):
        self.seen = []

    def push(self, port, packet):
        self.seen.append(self.router.scheduler.now())
        packet.kill()


@pytest.mark.parametrize("pull", [False, True])
def test_timing_in_simulated_time(tmp_path, pull):
    f = tmp_path / "in.txt"
    f.write_text("!data timestamp\n10\n10.25\n12\n")
    middle = "-> Unqueue" if pull else ""
    r = build_router(f"FromIPSummaryDump({f}, STOP true, TIMING true) {middle} -> s :: AnalysisTestTimes",
                     simulated=True)
    start = r.scheduler.now()
    r.run()
    assert [t - start for t in r.element("s").seen] == [0, 250_000_000, 2_000_000_000]
    r.cleanup()


def test_sampling(tmp_path):
    r = summarize(tmp_path, "!data src\n" + "1.2.3.4\n" * 50, "src", keywords=", SAMPLE 0")
    assert dump_lines(r.stdout) == []
    assert "SAMPLE probability is 0" in r.stderr


# --- malformed input ----------------------------------------------------------------------


def test_bad_field_value_is_reported_with_file_and_line(tmp_path):
    r = summarize(tmp_path, "!data src dport\n1.0.0.1 80\n1.0.0.2 notaport\n1.0.0.3 99999\n", "src dport")
    assert r.returncode == 0
    assert dump_lines(r.stdout) == ["1.0.0.1 80", "1.0.0.2 0", "1.0.0.3 0"]
    assert f"{tmp_path}/in.txt:3: warning: bad dport value 'notaport'" in r.stderr
    assert "Traceback" not in r.stderr


def test_unparsable_line_is_reported_once(tmp_path):
    r = summarize(tmp_path, "!data src\nbogus\nalso-bogus\n\n1.2.3.4\n", "src")
    assert dump_lines(r.stdout) == ["1.2.3.4"]
    assert r.stderr.count("packet parse error") == 1
    assert f"{tmp_path}/in.txt:2: packet parse error" in r.stderr


def test_no_data_line(tmp_path):
    r = summarize(tmp_path, "1.2.3.4\n", "src")
    assert dump_lines(r.stdout) == []
    assert "missing banner line" in r.stderr
    assert f"{tmp_path}/in.txt:1: no '!data' provided" in r.stderr


def test_bad_bang_lines(tmp_path):
    r = summarize(tmp_path, "!data src\n!proto XYZ\n!flowid 1 2\n1.2.3.4\n", "src proto")
    assert dump_lines(r.stdout) == ["1.2.3.4 T"]
    assert f"{tmp_path}/in.txt:2: bad protocol in !proto" in r.stderr
    assert f"{tmp_path}/in.txt:3: bad !flowid specification" in r.stderr


def test_unknown_fields_and_versions(tmp_path):
    r = summarize(tmp_path, "!IPSummaryDump 9.0\n!data src frobnicate\n1.2.3.4 x\n", "src")
    assert dump_lines(r.stdout) == ["1.2.3.4"]
    assert "unexpected IPSummaryDump version 9.0" in r.stderr
    assert "unknown content type 'frobnicate'" in r.stderr


def test_missing_file(tmp_path):
    r = run_config(f"FromIPSummaryDump({tmp_path}/nope) -> Discard")
    assert r.returncode != 0 and "nope: No such file or directory" in r.stderr
    r = run_config(f"FromIPSummaryDump({tmp_path}/nope, ALLOW_NONEXISTENT true, STOP true) -> c :: Counter -> Discard",
                   "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_truncated_binary_dump(tmp_path):
    fields = "ip_src ip_len"
    (tmp_path / "in.txt").write_text("!data src ip_len\n1.0.0.1 40\n1.0.0.2 50\n")
    run_config(f"FromIPSummaryDump({tmp_path}/in.txt, STOP true) -> ToIPSummaryDump({tmp_path}/b.dump, BINARY true, FIELDS {fields})")
    data = (tmp_path / "b.dump").read_bytes()
    (tmp_path / "cut.dump").write_bytes(data[:-3])
    r = run_config(f"FromIPSummaryDump({tmp_path}/cut.dump, STOP true) -> ToIPSummaryDump(-, FIELDS {fields})")
    assert r.returncode == 0
    assert dump_lines(r.stdout) == ["1.0.0.1 40"]
    assert "cut.dump:record 2: truncated binary record" in r.stderr
