"""IPPrint: Click's tcpdump-like lines for TCP, UDP, ICMP, other protocols and fragments."""
import pytest
from harness import feed, run_router
from scapy.all import ICMP, IP, TCP, UDP, Raw
from support import build_router, run_config

from clickpy.errors import ConfigError


def lines(packets, args="", tmp_path=None):
    out = tmp_path / "ipprint.txt"
    key = feed([{"data": p, "net": 0, "ts": 1.00002} if isinstance(p, bytes) else p for p in packets])
    r = run_router(f"HarnessFeed({key}) -> CheckIPHeader -> IPPrint({args}{', ' if args else ''}OUTFILE {out}) -> Discard")
    r.cleanup()        # closes OUTFILE
    return out.read_text(encoding="latin-1").splitlines()


def test_tcp_lines(tmp_path):
    pkts = [bytes(IP(src="1.0.0.1", dst="1.0.0.2") / TCP(sport=10, dport=20, flags="A", seq=1000, ack=7, window=512) / Raw(b"x" * 100)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / TCP(sport=10, dport=20, flags="SA", seq=4294967295, window=1)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / TCP(sport=10, dport=20, flags="FRP", seq=5)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2", proto=6) / Raw(b"\x00\x0a\x00\x14" + bytes(8)))]
    assert lines(pkts, tmp_path=tmp_path) == [
        "1.000020: 1.0.0.1.10 > 1.0.0.2.20: . 1000:1100(100,140,140) ack 7 win 512",
        "1.000020: 1.0.0.1.10 > 1.0.0.2.20: S 4294967295:0(1,40,40) ack 0 win 1",
        "1.000020: 1.0.0.1.10 > 1.0.0.2.20: FRP 5:6(1,40,40) win 8192",
        "1.000020: 1.0.0.1.10 > 1.0.0.2.20: truncated-tcp",
    ]


def test_udp_icmp_and_other_lines(tmp_path):
    inner = IP(src="1.0.0.2", dst="9.9.9.9") / UDP(sport=1, dport=53)
    pkts = [bytes(IP(src="1.0.0.1", dst="1.0.0.2") / UDP(sport=5, dport=6) / Raw(b"abc")),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=8, id=0x1234, seq=2)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=0, id=1, seq=256)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=3, code=3) / inner),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=3, code=2) / inner),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=3, code=4, nexthopmtu=1400) / inner),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=3, code=1)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=11, code=1)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=42, code=9)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2", proto=47) / Raw(b"gre!"))]
    assert lines(pkts, tmp_path=tmp_path) == [
        "1.000020: 1.0.0.1.5 > 1.0.0.2.6: udp 11",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp echo (4660, 2)",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp echo-reply (1, 256)",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp 9.9.9.9 unreachable port udp/53",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp 9.9.9.9 unreachable protocol udp",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp 9.9.9.9 unreachable needfrag (mtu 1400)",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp unreachable host truncated-icmp",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp timeexceeded reassembly",
        "1.000020: 1.0.0.1 > 1.0.0.2: icmp type 42 code 9",
        "1.000020: 1.0.0.1 > 1.0.0.2: ip-proto-47",
    ]


def test_fragments_swap_and_fields(tmp_path):
    pkts = [bytes(IP(src="1.0.0.1", dst="1.0.0.2", id=99, flags="MF", ttl=7, tos=3) / UDP(sport=5, dport=6) / Raw(b"a" * 8)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2", id=99, frag=2, proto=17) / Raw(b"b" * 5)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2", id=99, frag=2, proto=6) / Raw(b"b" * 5)),
            bytes(IP(src="1.0.0.1", dst="1.0.0.2", id=99, frag=2, proto=1) / Raw(b"b" * 5))]
    assert lines(pkts, "LABEL, ID true, TTL true, TOS true, LENGTH true", tmp_path) == [
        "LABEL: 1.000020: id 99 ttl 7 tos 3 length 36 1.0.0.1.5 > 1.0.0.2.6: udp 16 (frag 99:16@0+)",
        "LABEL: 1.000020: id 99 ttl 64 tos 0 length 25 1.0.0.1 > 1.0.0.2: udp (frag 99:5@16)",
        "LABEL: 1.000020: id 99 ttl 64 tos 0 length 25 1.0.0.1 > 1.0.0.2: tcp (frag 99:5@16)",
        "LABEL: 1.000020: id 99 ttl 64 tos 0 length 25 1.0.0.1 > 1.0.0.2: icmp (frag 99:5@16)",
    ]
    echo = bytes(IP(src="1.0.0.1", dst="1.0.0.2") / ICMP(type=8, id=0x1234, seq=2))
    assert lines([echo], "SWAP false, TIMESTAMP false", tmp_path) == [
        "1.0.0.1 > 1.0.0.2: icmp echo (13330, 512)"]


def test_contents_and_payload(tmp_path):
    pkt = bytes(IP(src="1.0.0.1", dst="1.0.0.2", id=1) / UDP(sport=5, dport=6, chksum=0) / Raw(b"Hello, world! " * 4))
    hexlines = lines([pkt], "CONTENTS hex, MAXLENGTH 30, TIMESTAMP false", tmp_path)
    assert hexlines == ["1.0.0.1.5 > 1.0.0.2.6: udp 64",
                        "  " + " ".join(pkt[i:i + 4].hex() for i in range(0, 24, 4)),
                        "  " + pkt[24:28].hex() + " " + pkt[28:30].hex()]
    asc = lines([pkt], "PAYLOAD ascii, MAXLENGTH -1, TIMESTAMP false", tmp_path)
    assert asc[0] == "1.0.0.1.5 > 1.0.0.2.6: udp 64"
    assert asc[1] == "  Hello, w orld! He llo, wor ld! Hell o, world ! Hello,"
    assert asc[2] == "   world! "


def test_paint_aggregate_and_truncated_ip(tmp_path):
    pkt = {"data": bytes(IP(src="1.0.0.1", dst="1.0.0.2") / UDP(sport=5, dport=6)), "net": 0, "paint": 4, "ts": 2}
    assert lines([pkt], "PAINT true, TIMESTAMP false", tmp_path) == ["paint 4: 1.0.0.1.5 > 1.0.0.2.6: udp 8"]
    assert lines([pkt], "PAINT true, AGGREGATE true, TIMESTAMP false", tmp_path) == [
        "#0.4: 1.0.0.1.5 > 1.0.0.2.6: udp 8"]
    out = tmp_path / "t.txt"
    key = feed([{"data": b"\x45\x00\x00", "net": 0}, b"not marked"])
    run_router(f"HarnessFeed({key}) -> IPPrint(OUTFILE {out}, TIMESTAMP false) -> Discard").cleanup()
    assert out.read_text() == "truncated-ip\n"


def test_stderr_active_handler_and_errors():
    pkt = bytes(IP(src="1.0.0.1", dst="1.0.0.2") / UDP(sport=5, dport=6))
    r = run_config(f"InfiniteSource(DATA \\<{pkt.hex()}>, LIMIT 2, STOP true) -> CheckIPHeader -> IPPrint(x, TIMESTAMP false)"
                   " -> Discard")
    assert r.stderr.count("x: 1.0.0.1.5 > 1.0.0.2.6: udp 8\n") == 2
    r = build_router("Idle -> p :: IPPrint -> Idle")
    assert r.read("p.active") == "true"
    r.write("p.active", "false")
    assert r.read("p.active") == "false"
    for bad in ("CONTENTS foo", "PAYLOAD foo", "CONTENTS hex, PAYLOAD hex"):
        with pytest.raises(ConfigError):
            build_router(f"Idle -> IPPrint({bad}) -> Idle")
