"""IPAddrRewriter, IPAddrPairRewriter, IPRewriterPatterns and RoundRobinIPMapper."""
from rewriter_helpers import checksums_ok, icmp, rewrite, snap, tcp, udp
from scapy.all import IP, TCP, UDP, raw

from support import run_config


# --- IPAddrRewriter ---------------------------------------------------------------------------

def test_ip_addr_rewriter_rewrites_any_protocol_and_its_replies():
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53), tcp("10.0.0.1", 2222, "9.9.9.9", 80, flags="S"),
            icmp("10.0.0.1", "1.1.1.1"),
            {"at": 1, "port": 1, "data": udp("8.8.8.8", 53, "198.51.100.10", 1111)},
            {"at": 1, "port": 1, "data": icmp("1.1.1.1", "198.51.100.10", type=0)}]
    r, out = rewrite("IPAddrRewriter(pattern 198.51.100.10-198.51.100.20# - 0 1, drop)", 2, 2, pkts)
    assert [(o.port, IP(o.data).src, IP(o.data).dst) for o in out] == [
        (0, "198.51.100.10", "8.8.8.8"), (0, "198.51.100.10", "9.9.9.9"), (0, "198.51.100.10", "1.1.1.1"),
        (1, "8.8.8.8", "10.0.0.1"), (1, "1.1.1.1", "10.0.0.1")]
    # ports are untouched; transport checksums follow the address change
    assert IP(out[0].data)[UDP].sport == 1111 and IP(out[1].data)[TCP].sport == 2222
    assert all(checksums_ok(o.data) for o in out)
    assert r.read("rw.nmappings") == "1"


def test_ip_addr_rewriter_sequential_addresses_and_exhaustion():
    pkts = [udp(f"10.0.0.{i}", 1, "8.8.8.8", 53) for i in range(1, 6)]
    r, out = rewrite("IPAddrRewriter(pattern 198.51.100.1-198.51.100.3# - 0 1)", 1, 2, pkts)
    assert [IP(o.data).src for o in out] == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    assert r.read("rw.mapping_failures") == "2"


def test_ip_addr_rewriter_prefix_range():
    pkts = [udp(f"10.0.0.{i}", 1, "8.8.8.8", 53) for i in range(1, 4)]
    r, out = rewrite("IPAddrRewriter(pattern 198.51.100.0/30# - 0 1)", 1, 2, pkts)
    # as Click: a prefix leaves out its .0 and broadcast addresses, so /30 gives two
    assert [IP(o.data).src for o in out] == ["198.51.100.1", "198.51.100.2"]
    assert r.read("rw.mapping_failures") == "1"


def test_ip_addr_rewriter_with_destination_in_pattern_makes_no_mapping():
    # As Click: IPAddrRewriter only changes sources; a pattern naming a
    # destination configures, but its flows cannot be added and are dropped.
    r, out = rewrite("IPAddrRewriter(pattern 1.0.0.1 2.0.0.2 0 1)", 1, 2, [udp("10.0.0.1", 1, "8.8.8.8", 53)])
    assert out == []
    assert r.read("rw.nmappings") == "0"


def test_ip_addr_rewriter_timeout():
    log = []
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53),
            {"at": 5, "call": snap(log, "rw.nmappings")}, {"at": 40, "call": snap(log, "rw.nmappings")}]
    rewrite("IPAddrRewriter(pattern 198.51.100.1 - 0 1, TIMEOUT 20, REAP_INTERVAL 1)", 1, 2, pkts, seconds=50)
    assert log == [("1",), ("0",)]


def test_ip_addr_rewriter_keeps_fragments_and_short_packets_consistent():
    frag = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=17, frag=10) / (b"a" * 20))
    short = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=17) / b"\x00\x01")
    r, out = rewrite("IPAddrRewriter(pattern 198.51.100.1 - 0 1)", 1, 2, [frag, short])
    assert [IP(o.data).src for o in out] == ["198.51.100.1", "198.51.100.1"]
    for o in out:
        # the IP checksum is right (the transport header is not touched: not there, or cut short)
        fixed = IP(o.data)
        del fixed.chksum
        assert IP(raw(fixed)).chksum == IP(o.data).chksum


# --- IPAddrPairRewriter ---------------------------------------------------------------------------

def test_ip_addr_pair_rewriter_maps_address_pairs():
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53), udp("10.0.0.1", 1, "9.9.9.9", 53),
            {"at": 1, "port": 1, "data": udp("9.9.9.9", 53, "198.51.100.2", 1)}]
    r, out = rewrite("IPAddrPairRewriter(pattern 198.51.100.1-198.51.100.9# - 0 1, drop)", 2, 2, pkts)
    # one mapping per (source, destination) pair
    assert [(o.port, IP(o.data).src, IP(o.data).dst) for o in out] == [
        (0, "198.51.100.1", "8.8.8.8"), (0, "198.51.100.2", "9.9.9.9"), (1, "9.9.9.9", "10.0.0.1")]
    assert all(checksums_ok(o.data) for o in out)
    assert r.read("rw.nmappings") == "2"


def test_ip_addr_pair_rewriter_rewrites_destination():
    pkts = [tcp("10.0.0.1", 5, "192.0.2.1", 80, flags="S"),
            {"at": 1, "port": 1, "data": tcp("10.9.9.9", 80, "10.0.0.1", 5, flags="SA")}]
    r, out = rewrite("IPAddrPairRewriter(pattern - 10.9.9.9 0 1, drop)", 2, 2, pkts)
    assert [(IP(o.data).src, IP(o.data).dst) for o in out] == [("10.0.0.1", "10.9.9.9"), ("192.0.2.1", "10.0.0.1")]
    assert out[0].dst_ip == "10.9.9.9"
    assert all(checksums_ok(o.data) for o in out)


def test_ip_addr_pair_rewriter_table_handler():
    log = []
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53), {"at": 1, "call": snap(log, "rw.table")}]
    rewrite("IPAddrPairRewriter(pattern 198.51.100.1 - 0 1)", 1, 2, pkts)
    assert "10.0.0.1" in log[0][0] and "198.51.100.1" in log[0][0] and log[0][0].count("\n") == 2


# --- IPRewriterPatterns ------------------------------------------------------------------------

def test_named_pattern_shared_by_two_rewriters_continues_sequence():
    extra = "IPRewriterPatterns(p 198.51.100.1 3000-3010# - -); rw2 :: IPRewriter(pattern p 0 1); f[1] -> rw2 -> [2]rec; rw2[1] -> [3]rec;"
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53), {"at": 1, "port": 1, "data": udp("10.0.0.2", 1, "8.8.8.8", 53)}]
    r, out = rewrite("IPRewriter(pattern p 0 1)", 1, 2, pkts, extra=extra)
    assert [(o.port, IP(o.data)[UDP].sport) for o in out] == [(0, 3000), (2, 3001)]


def test_patterns_errors():
    res = run_config("IPRewriterPatterns(a 1.0.0.1 - - -, a 1.0.0.2 - - -); InfiniteSource(LIMIT 1) -> Discard")
    assert res.returncode != 0 and "already defined" in res.stderr
    res = run_config("IPRewriterPatterns(a 1.0.0.1 1x - -); InfiniteSource(LIMIT 1) -> Discard")
    assert res.returncode != 0 and "IPRewriterPatterns" in res.stderr


# --- RoundRobinIPMapper --------------------------------------------------------------------------

def test_round_robin_mapper_cycles_patterns():
    extra = "map :: RoundRobinIPMapper(198.51.100.1 - - - 0 1, 198.51.100.2 - - - 0 1, - - 10.9.9.9 - 0 1);"
    pkts = [udp(f"10.0.0.{i}", 1, "8.8.8.8", 53) for i in range(1, 7)]
    r, out = rewrite("IPRewriter(map, drop)", 2, 2, pkts, extra=extra)
    assert [(IP(o.data).src, IP(o.data).dst) for o in out] == [
        ("198.51.100.1", "8.8.8.8"), ("198.51.100.2", "8.8.8.8"), ("10.0.0.3", "10.9.9.9"),
        ("198.51.100.1", "8.8.8.8"), ("198.51.100.2", "8.8.8.8"), ("10.0.0.6", "10.9.9.9")]


def test_round_robin_mapper_outputs_and_exhaustion():
    extra = "map :: RoundRobinIPMapper(198.51.100.1 5000-5000# - - 0 1, 198.51.100.2 6000-6001# - - 1 0);"
    pkts = [udp(f"10.0.0.{i}", 1, "8.8.8.8", 53) for i in range(1, 6)]
    r, out = rewrite("IPRewriter(map, drop)", 2, 2, pkts, extra=extra)
    # the first pattern's single port is fixed (no range), so it never runs out
    assert [(o.port, IP(o.data).src) for o in out][:2] == [(0, "198.51.100.1"), (1, "198.51.100.2")]


def test_round_robin_mapper_rejects_non_mapper_elements():
    res = run_config("c :: Counter; InfiniteSource(LIMIT 1) -> rw :: IPRewriter(c) -> c -> Discard; rw[1] -> Discard")
    assert res.returncode != 0 and "IPMapper" in res.stderr
