"""ToIPSummaryDump and the IP summary dump field table."""
import pytest
from scapy.all import IP, TCP, UDP, Raw

from clickpy.runtime.packet import PacketObject
from clickpy.elements.analysis import ipsummary_format as fmt
from support import build_router, run_config


def dump_lines(text):
    return [line for line in text.splitlines() if not line.startswith("!")]


def summarize(tmp_path, dump, fields, *, keywords="", out_keywords=""):
    f = tmp_path / "in.txt"
    f.write_text(dump)
    return run_config(f"FromIPSummaryDump({f}, STOP true{keywords}) -> ToIPSummaryDump(-, FIELDS {fields}{out_keywords})")


def summarize_packets(tmp_path, packets, fields, keywords=""):
    """Push crafted packets (data, network offset, network length) straight into a ToIPSummaryDump."""
    r = build_router(f"Idle -> t :: ToIPSummaryDump({tmp_path}/out, FIELDS {fields}{keywords})")
    t = r.element("t")
    for data, net_off, net_len in packets:
        p = PacketObject.make(data)
        if net_off is not None:
            p.set_network_header(net_off, net_len)
        t.push_packet(0, p)
    r.cleanup()
    return (tmp_path / "out").read_text()


def test_synonyms_and_header(tmp_path):
    r = summarize(tmp_path, "!data src dst ts proto\n1.2.3.4 5.6.7.8 10.5 U\n", "src dst ts proto 'tcp seq'")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "!IPSummaryDump 1.3"
    assert lines[1] == "!data ip_src ip_dst timestamp ip_proto tcp_seq"
    assert lines[2] == "1.2.3.4 5.6.7.8 10.500000 U -"


def test_header_false_and_banner(tmp_path):
    r = summarize(tmp_path, "!data src\n1.2.3.4\n", "src", out_keywords=", BANNER \"my tool\"")
    assert r.stdout.splitlines()[:2] == ["!IPSummaryDump 1.3", '!creator "my tool"']
    r = summarize(tmp_path, "!data src\n1.2.3.4\n", "src", out_keywords=", HEADER false")
    assert r.stdout == "1.2.3.4\n"


def test_unknown_field():
    r = run_config("Idle -> ToIPSummaryDump(-, FIELDS src frobnicate)")
    assert r.returncode != 0 and "unknown content type 'frobnicate'" in r.stderr


def test_multipacket_output(tmp_path):
    dump = "!data timestamp first_timestamp src ip_len count\n4.0 1.0 1.0.0.1 100 3\n"
    r = summarize(tmp_path, dump, "timestamp ip_len", out_keywords=", MULTIPACKET true")
    assert r.returncode == 0, r.stderr
    assert dump_lines(r.stdout) == ["1.000000 100", "2.500000 100", "4.000000 100"]


def test_binary_round_trip(tmp_path):
    fields = "timestamp ip_src ip_dst sport dport ip_proto ip_len tcp_flags tcp_opt count link aggregate"
    dump = ("!data timestamp ip_src ip_dst sport dport ip_proto ip_len tcp_flags tcp_opt count link aggregate\n"
            "1.5 1.0.0.1 1.0.0.2 1 2 T 60 SA mss536 2 1 9\n2.25 1.0.0.2 1.0.0.1 2 1 U 40 - - 1 0 8\n")
    (tmp_path / "in.txt").write_text(dump)
    r = run_config(f"FromIPSummaryDump({tmp_path}/in.txt, STOP true) -> ToIPSummaryDump({tmp_path}/b.dump, BINARY true, FIELDS {fields})")
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "b.dump").read_bytes()
    assert b"!binary\n" in data
    r2 = run_config(f"FromIPSummaryDump({tmp_path}/b.dump, STOP true) -> ToIPSummaryDump(-, FIELDS {fields})")
    r1 = run_config(f"FromIPSummaryDump({tmp_path}/in.txt, STOP true) -> ToIPSummaryDump(-, FIELDS {fields})")
    assert r2.returncode == 0, r2.stderr
    assert dump_lines(r2.stdout) == dump_lines(r1.stdout)
    assert len(dump_lines(r1.stdout)) == 2
    r = run_config("Idle -> ToIPSummaryDump(-, BINARY true, FIELDS payload)")
    assert r.returncode != 0 and "cannot use field payload with BINARY" in r.stderr


def test_lines_come_in_packet_order_with_downstream_output(tmp_path):
    r = run_config("InfiniteSource(LIMIT 3, BURST 3, STOP true) -> ToIPSummaryDump(-, FIELDS wire_len, HEADER false) "
                   "-> ToIPSummaryDump(-, FIELDS count, HEADER false)")
    assert r.stdout.split() == ["69", "1"] * 3


def test_pull_input_with_a_task(tmp_path):
    r = run_config("InfiniteSource(LIMIT 4, STOP true) -> Queue -> ToIPSummaryDump(-, FIELDS count, HEADER false)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1"] * 4


# --- short or broken packets --------------------------------------------------------------


def test_short_and_bad_packets_print_dashes(tmp_path):
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=5, dport=6, flags="A"))
    packets = [
        (good, 0, 20),
        (good[:10], 0, 20),                      # cut inside the IP header
        (good[:30], 0, 20),                      # cut inside the TCP header
        (b"\x65" + good[1:], 0, 20),             # IP version 6
        (good, None, None),                      # no IP header at all
        (b"", None, None),                       # empty
    ]
    out = summarize_packets(tmp_path, packets, "ip_src ip_dst sport tcp_flags tcp_seq ip_len", ", BAD_PACKETS true")
    assert out.splitlines()[2:] == [
        "1.1.1.1 2.2.2.2 5 A 0 40",
        "!bad truncated IP missing 30",
        "- - - - - 40",
        "!bad truncated IP missing 10",
        "1.1.1.1 2.2.2.2 5 - 0 40",
        "!bad IP version 6",
        "- - - - - 40",
        "!bad no IP header",
        "- - - - - 40",
        "!bad no IP header",
        "- - - - - 0",
    ]


def test_payload_and_md5(tmp_path):
    pkt = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) / Raw(b"hi there\n"))
    out = summarize_packets(tmp_path, [(pkt, 0, 20)], "payload payload_len payload_md5 payload_md5_hex")
    assert out.splitlines()[-1] == '"hi there\\n" 9 sy@Uze03MHB84qQruJ_zma 12f6bb1941df66b8f138a446d4e8670c'


def test_random_packets_never_break_the_writer():
    import random

    fields = list(fmt.WRITERS.values())
    rnd = random.Random(1)
    for _ in range(3000):
        n = rnd.randrange(0, 80)
        buf = bytes(rnd.randrange(256) for _ in range(n))
        if n and rnd.random() < 0.5:
            buf = bytes([0x40 | rnd.randrange(16)]) + buf[1:]
        data = rnd.randrange(0, n + 1) if n else 0
        net = rnd.choice([-1, data, rnd.randrange(0, n + 1) if n else 0])
        trans = -1 if net < 0 else rnd.choice([net + 20, net + rnd.randrange(0, 60), -1])
        d = fmt.PacketDesc(buf, data, rnd.choice([-1, data]), net, trans, extra_length=rnd.randrange(100),
                           bad=[] if rnd.random() < 0.5 else None)
        line = fmt.summarize(d, fields)
        assert line.count(" ") >= len(fields) - 1
        fmt.summarize(fmt.PacketDesc(buf, data, -1, net, trans), [f for f in fields if f.binary_size >= 0], binary=True)


# --- the format module ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["mss1460", "mss1460;sackok;ts1:2;wscale7", "sack1-2;sack5-9",
                                  "99=0:5:10;nop;98=1", "nop;eol"])
def test_tcp_options_round_trip(text):
    assert fmt.unparse_tcp_opt(fmt.parse_tcp_opt(text), fmt.DO_TCPOPT_ALL) == text


@pytest.mark.parametrize("text", ["rr{10.0.0.1,20.0.0.2}+5", "ssrr{1.0.0.1,1.0.0.2^1.0.0.3}", "ts{1,10000,!45}+2++3",
                                  "ts.ip{1.0.0.1=1,1.0.0.2=2}+2", "ts.preip{1.0.0.1=1^1.0.0.2,1.0.0.3}", "99=0:5:10"])
def test_ip_options_round_trip(text):
    assert fmt.unparse_ip_opt(fmt.parse_ip_opt(text)) == text


@pytest.mark.parametrize("text", ["mss", "mss99999", "sack1", "ts1", "bogus"])
def test_bad_tcp_options(text):
    with pytest.raises(fmt.Bad):
        fmt.parse_tcp_opt(text)


@pytest.mark.parametrize("text", ["rr{1.2.3}", "300", "ts.ip{1.0.0.1=1,1.0.0.2=2}+5", "bogus"])
def test_bad_ip_options(text):
    with pytest.raises(fmt.Bad):
        fmt.parse_ip_opt(text)


def test_md5_text_digest_matches_click():
    assert fmt.md5_text_digest(b"") == "u3bJz@iaYsq6aMaMSJVq_b"
    assert fmt.md5_text_digest(b"hi there\n") == "sy@Uze03MHB84qQruJ_zma"


def test_field_names_resolve_as_in_click():
    assert fmt.find_writer("src").name == "ip_src"
    assert fmt.find_writer("ts").name == "timestamp"
    assert fmt.find_writer("tcp seq").name == "tcp_seq"
    assert fmt.find_writer("length").name == "ip_len"
    assert fmt.find_reader("payload_md5") is None      # written, never read
    assert fmt.find_writer("nosuch_field") is None
