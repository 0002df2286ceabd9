"""IPRewriter: input specs, reply mapping, checksums, timeouts, capacity, handlers, bad input."""
import pytest
from rewriter_helpers import checksums_ok, rewrite, snap, tcp, udp
from scapy.all import IP, TCP, UDP, raw

from support import run_config

from clickpy.runtime.args import parse_ip

NAT = "IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1, drop{kw})"


def nat(kw=""):
    return NAT.format(kw=kw)


# --- the mapping and its replies -------------------------------------------------------------

def test_udp_flow_and_reply_are_rewritten_with_correct_checksums():
    out_pkt = udp("10.0.0.1", 1111, "8.8.8.8", 53, payload=b"query!")
    reply = udp("8.8.8.8", 53, "203.0.113.1", 1111, payload=b"answer")
    r, log = rewrite(nat(), 2, 2, [out_pkt, {"data": reply, "at": 1, "port": 1}])
    assert [o.port for o in log] == [0, 1]
    fwd, back = IP(log[0].data), IP(log[1].data)
    assert (fwd.src, fwd[UDP].sport, fwd.dst, fwd[UDP].dport) == ("203.0.113.1", 1111, "8.8.8.8", 53)
    assert (back.src, back[UDP].sport, back.dst, back[UDP].dport) == ("8.8.8.8", 53, "10.0.0.1", 1111)
    assert bytes(fwd[UDP].payload) == b"query!" and bytes(back[UDP].payload) == b"answer"
    assert checksums_ok(log[0].data) and checksums_ok(log[1].data)
    # DST_ANNO (default true) is the new destination
    assert log[0].dst_ip == "8.8.8.8" and log[1].dst_ip == "10.0.0.1"
    assert r.read("rw.nmappings") == "1"
    assert r.read("rw.size") == "1"


def test_tcp_flow_checksums_with_payload_and_options():
    pkts = []
    for i in range(5):
        data = raw(IP(src="10.0.0.1", dst="192.0.2.80", id=i) /
                   TCP(sport=40000 + i, dport=80, flags="PA", seq=i * 1000, options=[("MSS", 1460), ("NOP", None)]) /
                   (b"x" * (i * 37 + 1)))
        pkts.append(data)
    r, log = rewrite("IPRewriter(pattern 198.51.100.7 2000-2999# - - 0 1, drop)", 2, 2, pkts)
    assert len(log) == 5
    for i, o in enumerate(log):
        p = IP(o.data)
        assert p.src == "198.51.100.7" and p[TCP].sport == 2000 + i
        assert p.dst == "192.0.2.80" and p[TCP].dport == 80
        assert checksums_ok(o.data), i


def test_reply_arriving_on_any_input_uses_the_mapping():
    # mappings are looked up first, whatever the input: a reply on input 0 is still mapped to output 1
    reply = udp("8.8.8.8", 53, "203.0.113.1", 1111)
    r, log = rewrite(nat(), 2, 2, [udp("10.0.0.1", 1111, "8.8.8.8", 53), {"data": reply, "at": 1, "port": 0}])
    assert [o.port for o in log] == [0, 1]
    assert IP(log[1].data).dst == "10.0.0.1"


def test_unmapped_reply_on_drop_input_is_dropped():
    r, log = rewrite(nat(), 2, 2, [{"data": udp("8.8.8.8", 53, "203.0.113.1", 9999), "port": 1}])
    assert log == []
    assert r.read("rw.nmappings") == "0"


def test_tcp_and_udp_tables_are_separate():
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53),
            {"data": tcp("8.8.8.8", 53, "203.0.113.1", 1111), "at": 1, "port": 1}]
    r, log = rewrite(nat(), 2, 2, pkts)
    # the TCP "reply" finds no TCP mapping: input 1 drops it
    assert [o.port for o in log] == [0]
    assert r.read("rw.udp_table").count("\n") == 2
    assert r.read("rw.tcp_table") == ""


# --- input specs ------------------------------------------------------------------------------

def test_pass_spec_sends_unchanged_and_makes_no_mapping():
    p = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    r, log = rewrite("IPRewriter(pass 1)", 1, 2, [p])
    assert [(o.port, o.data) for o in log] == [(1, p)]
    assert r.read("rw.nmappings") == "0"


def test_pass_spec_passes_non_tcp_udp_packets():
    from rewriter_helpers import icmp
    p = icmp("10.0.0.1", "8.8.8.8")
    r, log = rewrite("IPRewriter(pass 0, drop)", 2, 1, [p, {"data": p, "port": 1}])
    assert [(o.port, o.data) for o in log] == [(0, p)]


def test_keep_spec_maps_flow_to_itself():
    p = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    reply = udp("8.8.8.8", 53, "10.0.0.1", 1111)
    r, log = rewrite("IPRewriter(keep 0 1, drop)", 2, 2, [p, {"data": reply, "at": 1, "port": 1}])
    assert [(o.port, o.data) for o in log] == [(0, p), (1, reply)]
    assert r.read("rw.nmappings") == "1"


def test_pattern_keeps_source_port_when_free_else_chooses_another():
    pkts = [udp("10.0.0.1", 5000, "8.8.8.8", 53),
            udp("10.0.0.2", 5000, "8.8.8.8", 53),      # 5000 is taken toward 8.8.8.8:53
            udp("10.0.0.3", 5000, "9.9.9.9", 53)]      # but free toward another destination
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 4000-5999 - - 0 1)", 1, 2, pkts)
    ports = [IP(o.data)[UDP].sport for o in log]
    assert ports[0] == 5000
    assert ports[1] != 5000 and 4000 <= ports[1] <= 5999
    assert ports[2] == 5000


def test_pattern_sequential_ports():
    pkts = [udp(f"10.0.0.{i}", 7, "8.8.8.8", 53) for i in range(1, 6)]
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 1024-65535# - - 0 1)", 1, 2, pkts)
    assert [IP(o.data)[UDP].sport for o in log] == [1024, 1025, 1026, 1027, 1028]


def test_pattern_random_ports_stay_in_range_and_distinct():
    pkts = [udp(f"10.0.{i // 250}.{i % 250 + 1}", 6000, "8.8.8.8", 53) for i in range(200)]
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 6000-6999? - - 0 1)", 1, 2, pkts)
    ports = [IP(o.data)[UDP].sport for o in log]
    assert len(ports) == 200 and len(set(ports)) == 200
    assert all(6000 <= p <= 6999 for p in ports)
    assert ports[:5] != [6000, 6001, 6002, 6003, 6004]


def test_pattern_rewrites_destination():
    p = tcp("10.0.0.1", 3333, "192.0.2.1", 8080, flags="S")
    reply = tcp("10.1.1.1", 80, "10.0.0.1", 3333, flags="SA")
    r, log = rewrite("IPRewriter(pattern - - 10.1.1.1 80 0 1, drop)", 2, 2, [p, {"data": reply, "at": 1, "port": 1}])
    fwd, back = IP(log[0].data), IP(log[1].data)
    assert (fwd.src, fwd[TCP].sport, fwd.dst, fwd[TCP].dport) == ("10.0.0.1", 3333, "10.1.1.1", 80)
    assert (back.src, back[TCP].sport, back.dst, back[TCP].dport) == ("192.0.2.1", 8080, "10.0.0.1", 3333)
    assert log[0].dst_ip == "10.1.1.1"
    assert checksums_ok(log[0].data) and checksums_ok(log[1].data)


def test_dst_anno_false_leaves_annotation():
    r, log = rewrite("IPRewriter(pattern - - 10.1.1.1 80 0 1, DST_ANNO false)", 1, 2,
                     [udp("10.0.0.1", 3333, "192.0.2.1", 8080)])
    assert IP(log[0].data).dst == "10.1.1.1"
    assert log[0].dst_ip != "10.1.1.1"


def test_named_pattern_from_ip_rewriter_patterns():
    cfg = "IPRewriter(pattern out 0 1)"
    extra = "IPRewriterPatterns(out 203.0.113.9 7000-7001# - -);"
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53), udp("10.0.0.2", 1, "8.8.8.8", 53)]
    r, log = rewrite(cfg, 1, 2, pkts, extra=extra)
    assert [(IP(o.data).src, IP(o.data)[UDP].sport) for o in log] == [("203.0.113.9", 7000), ("203.0.113.9", 7001)]


def test_bad_specs_are_configuration_errors():
    for spec, needle in [("pattern 1.2.3.4 - - - 0 5", "out of range"),
                         ("frobnicate", "unknown specification"),
                         ("pass 7", "out of range"),
                         ("pattern nosuch 0 1", ""),
                         ("pattern 1.2.3.4 9-2 - - 0 1", "")]:
        res = run_config(f"InfiniteSource(LIMIT 1) -> rw :: IPRewriter({spec}) -> Discard; rw[1] -> Discard")
        assert res.returncode != 0, spec
        assert "IPRewriter" in res.stderr and needle in res.stderr, res.stderr


def test_wrong_number_of_specs():
    res = run_config("InfiniteSource(LIMIT 1) -> rw :: IPRewriter(drop, drop) -> Discard")
    assert res.returncode != 0
    assert "one per input" in res.stderr


# --- port exhaustion and capacity ------------------------------------------------------------

def test_port_exhaustion_drops_and_counts():
    pkts = [udp(f"10.0.0.{i}", 4444, "8.8.8.8", 53) for i in range(1, 11)]
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 5000-5002 - - 0 1, drop)", 2, 2, pkts)
    assert sorted(IP(o.data)[UDP].sport for o in log) == [5000, 5001, 5002]
    assert r.read("rw.mapping_failures") == "7"
    assert r.read("rw.nmappings") == "3"
    # existing flows still work
    mapped = r.find("rw").lookup(parse_ip("10.0.0.1"), 4444, parse_ip("8.8.8.8"), 53, 1)
    assert mapped is not None and mapped[0][0] == parse_ip("203.0.113.1") and 5000 <= mapped[0][1] <= 5002


def test_port_exhaustion_with_two_ports_tcp():
    pkts = [tcp(f"10.0.0.{i}", 4444, "8.8.8.8", 80, flags="S") for i in range(1, 5)]
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 5000-5001 - - 0 1)", 1, 2, pkts)
    assert sorted(IP(o.data)[TCP].sport for o in log) == [5000, 5001]
    assert r.read("rw.mapping_failures") == "2"


def test_one_port_range_is_a_fixed_port_and_new_flows_replace_old():
    # As Click: 'L-L' has no variation, so flows collide and the newest mapping wins.
    pkts = [tcp(f"10.0.0.{i}", 4444, "8.8.8.8", 80, flags="S") for i in range(1, 4)]
    pkts.append({"at": 1, "port": 1, "data": tcp("8.8.8.8", 80, "203.0.113.1", 5000, flags="SA")})
    r, log = rewrite("IPRewriter(pattern 203.0.113.1 5000-5000 - - 0 1, drop)", 2, 2, pkts)
    assert [IP(o.data)[TCP].sport for o in log[:3]] == [5000] * 3
    assert log[3].port == 1 and IP(log[3].data).dst == "10.0.0.3"
    assert r.read("rw.nmappings") == "1"
    assert r.read("rw.mapping_failures") == "0"


def test_capacity_full_of_guaranteed_flows_drops_new_flows():
    pkts = [udp(f"10.0.0.{i}", 1000, "8.8.8.8", 53) for i in range(1, 5)]
    # a later flow, after the guarantees (5 s) ran out, evicts the oldest
    pkts.append({"data": udp("10.0.0.9", 1000, "8.8.8.8", 53), "at": 20})
    r, log = rewrite(nat(", MAPPING_CAPACITY 2"), 2, 2, pkts, seconds=30)
    assert [IP(o.data).src for o in log] == ["203.0.113.1"] * 3
    assert r.read("rw.mapping_failures") == "2"
    assert r.read("rw.size") == "2"
    assert r.read("rw.capacity") == "2"
    rw = r.find("rw")
    assert rw.lookup(parse_ip("10.0.0.9"), 1000, parse_ip("8.8.8.8"), 53, 1) is not None
    assert rw.lookup(parse_ip("10.0.0.1"), 1000, parse_ip("8.8.8.8"), 53, 1) is None


def test_capacity_without_guarantee_evicts_oldest():
    pkts = [{"data": udp(f"10.0.0.{i}", 1000, "8.8.8.8", 53), "at": i} for i in range(1, 6)]
    r, log = rewrite(nat(", MAPPING_CAPACITY 3, UDP_GUARANTEE 0"), 2, 2, pkts, seconds=10)
    assert len(log) == 5
    assert r.read("rw.size") == "3"
    rw = r.find("rw")
    alive = [i for i in range(1, 6)
             if rw.lookup(parse_ip(f"10.0.0.{i}"), 1000, parse_ip("8.8.8.8"), 53, 1) is not None]
    assert alive == [3, 4, 5]


def test_capacity_handler_write_shrinks_and_clear_empties():
    log = []
    pkts = [udp(f"10.0.0.{i}", 1000, "8.8.8.8", 53) for i in range(1, 9)]
    pkts += [{"at": 1, "call": snap(log, "rw.size")},
             {"at": 10, "call": lambda r: r.write("rw.capacity", "3")},
             {"at": 11, "call": snap(log, "rw.size", "rw.capacity")},
             {"at": 12, "call": lambda r: r.write("rw.clear", "")},
             {"at": 13, "call": snap(log, "rw.size", "rw.nmappings")}]
    rewrite(nat(), 2, 2, pkts, seconds=20)
    assert log == [("8",), ("3", "3"), ("0", "0")]


def test_shared_capacity_between_rewriters():
    cfg = ("f :: HarnessFeed({key}); a :: IPRewriter(pattern 1.1.1.1 1000-2000 - - 0 0, MAPPING_CAPACITY 3);"
           "b :: IPRewriter(pattern 2.2.2.2 1000-2000 - - 0 0, MAPPING_CAPACITY a);"
           "rec :: HarnessRecord; f[0] -> a -> [0]rec; f[1] -> b -> [1]rec;")
    from rewriter_helpers import make_feed, run_router
    pkts = [udp("10.0.0.1", 1, "8.8.8.8", 53), udp("10.0.0.2", 1, "8.8.8.8", 53),
            {"data": udp("10.0.0.3", 1, "8.8.8.8", 53), "port": 1},
            {"data": udp("10.0.0.4", 1, "8.8.8.8", 53), "port": 1}]
    r = run_router(cfg.format(key=make_feed(pkts)), 3)
    assert r.read("a.size") == "3" and r.read("b.size") == "3"
    assert r.read("a.nmappings") == "2" and r.read("b.nmappings") == "1"
    assert r.read("b.mapping_failures") == "1"


# --- timeouts ----------------------------------------------------------------------------------

def test_udp_mapping_expires_after_timeout_and_refresh_extends_it():
    log = []
    kw = ", UDP_TIMEOUT 30, REAP_INTERVAL 1"
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53), udp("10.0.0.2", 2222, "8.8.8.8", 53),
            {"at": 20, "data": udp("10.0.0.2", 2222, "8.8.8.8", 53)},       # refresh flow 2
            {"at": 25, "call": snap(log, "rw.nmappings")},
            {"at": 40, "call": snap(log, "rw.nmappings")},
            {"at": 41, "data": udp("8.8.8.8", 53, "203.0.113.1", 1111), "port": 1},   # expired: dropped
            {"at": 42, "data": udp("8.8.8.8", 53, "203.0.113.1", 2222), "port": 1},   # alive: mapped
            {"at": 60, "call": snap(log, "rw.nmappings")},     # the reply at 42 refreshed flow 2
            {"at": 80, "call": snap(log, "rw.nmappings")}]
    r, out = rewrite(nat(kw), 2, 2, pkts, seconds=100)
    assert log == [("2",), ("1",), ("1",), ("0",)]
    assert [(o.port, IP(o.data).dst) for o in out] == [(0, "8.8.8.8"), (0, "8.8.8.8"), (0, "8.8.8.8"), (1, "10.0.0.2")]


def test_udp_streaming_timeout():
    log = []
    kw = ", UDP_TIMEOUT 10, UDP_STREAMING_TIMEOUT 100, REAP_INTERVAL 1, UDP_GUARANTEE 0"
    stream = [udp("10.0.0.1", 1111, "8.8.8.8", 53),
              {"at": 0.1, "port": 1, "data": udp("8.8.8.8", 53, "203.0.113.1", 1111)},
              {"at": 0.2, "data": udp("10.0.0.1", 1111, "8.8.8.8", 53)}]
    rpc = [udp("10.0.0.2", 2222, "8.8.8.8", 53)]
    pkts = stream + rpc + [{"at": 30, "call": snap(log, "rw.nmappings")},
                           {"at": 150, "call": snap(log, "rw.nmappings")}]
    rewrite(nat(kw), 2, 2, pkts, seconds=200)
    assert log == [("1",), ("0",)]


@pytest.mark.parametrize("flags", [["R"], ["F", "FA"]])
def test_tcp_rst_or_fin_both_ways_uses_done_timeout(flags):
    log = []
    kw = ", TCP_DONE_TIMEOUT 10, TCP_NODATA_TIMEOUT 100, TCP_TIMEOUT 1000, REAP_INTERVAL 1"
    pkts = [tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="S"),
            {"at": 0.5, "port": 1, "data": tcp("192.0.2.1", 80, "203.0.113.1", 1111, flags="SA")}]
    for i, fl in enumerate(flags):
        if i % 2 == 0:
            pkts.append({"at": 1 + i, "data": tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags=fl)})
        else:
            pkts.append({"at": 1 + i, "port": 1, "data": tcp("192.0.2.1", 80, "203.0.113.1", 1111, flags=fl)})
    pkts += [{"at": 5, "call": snap(log, "rw.nmappings")}, {"at": 20, "call": snap(log, "rw.nmappings")}]
    r, out = rewrite(nat(kw), 2, 2, pkts, seconds=30)
    assert log == [("1",), ("0",)]
    assert len(out) == 2 + len(flags)
    assert all(checksums_ok(o.data) for o in out)


def test_tcp_fin_one_way_is_not_done():
    log = []
    kw = ", TCP_DONE_TIMEOUT 10, TCP_NODATA_TIMEOUT 100, TCP_TIMEOUT 1000, REAP_INTERVAL 1"
    pkts = [tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="S"),
            {"at": 1, "data": tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="FA")},
            {"at": 20, "call": snap(log, "rw.nmappings")},
            {"at": 150, "call": snap(log, "rw.nmappings")}]
    rewrite(nat(kw), 2, 2, pkts, seconds=200)
    assert log == [("1",), ("0",)]


def test_tcp_data_both_ways_uses_long_timeout():
    log = []
    kw = ", TCP_DONE_TIMEOUT 10, TCP_NODATA_TIMEOUT 100, TCP_TIMEOUT 1000, REAP_INTERVAL 1"
    pkts = [tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="PA", payload=b"GET /"),
            {"at": 1, "port": 1, "data": tcp("192.0.2.1", 80, "203.0.113.1", 1111, flags="PA", payload=b"200")},
            {"at": 150, "call": snap(log, "rw.nmappings")},
            {"at": 1100, "call": snap(log, "rw.nmappings")}]
    rewrite(nat(kw), 2, 2, pkts, seconds=1200)
    assert log == [("1",), ("0",)]


def test_guarantee_protects_flows_until_it_runs_out():
    # capacity 1: while the first flow is guaranteed (60 s), a second cannot take its place
    pkts = [udp("10.0.0.1", 2000, "8.8.8.8", 53),
            {"at": 30, "data": udp("10.0.0.2", 2000, "8.8.8.8", 53)},
            {"at": 70, "data": udp("10.0.0.3", 2000, "8.8.8.8", 53)}]
    r, out = rewrite(nat(", MAPPING_CAPACITY 1, UDP_GUARANTEE 60, UDP_TIMEOUT 300"), 2, 2, pkts, seconds=80)
    assert [IP(o.data).src for o in out] == ["203.0.113.1"] * 2
    assert [(o.arrived - out[0].arrived) / 1e9 for o in out] == [0, 70]
    assert r.read("rw.mapping_failures") == "1"
    rw = r.find("rw")
    assert rw.lookup(parse_ip("10.0.0.3"), 2000, parse_ip("8.8.8.8"), 53, 1) is not None
    assert rw.lookup(parse_ip("10.0.0.1"), 2000, parse_ip("8.8.8.8"), 53, 1) is None


def test_table_shows_expiry_seconds():
    log = []
    pkts = [tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="S"), {"at": 10, "call": snap(log, "rw.tcp_table")}]
    rewrite(nat(", TCP_NODATA_TIMEOUT 100"), 2, 2, pkts, seconds=20)
    lines = sorted(log[0][0].splitlines())
    assert lines == ["(10.0.0.1, 1111, 192.0.2.1, 80) => (203.0.113.1, 1111, 192.0.2.1, 80) [*0 1] i0 exp90",
                     "(192.0.2.1, 80, 203.0.113.1, 1111) => (192.0.2.1, 80, 10.0.0.1, 1111) [0 *1] i0 exp90"]


# --- handlers -----------------------------------------------------------------------------------

def test_tcp_lookup_patterns_and_pattern_write():
    log = []
    pkts = [tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="S"),
            {"at": 1, "call": lambda r: log.append(r.read("rw.tcp_lookup", param="10.0.0.1 1111 192.0.2.1 80"))},
            {"at": 1, "call": lambda r: log.append(r.read("rw.tcp_lookup", param="10.0.0.9 1111 192.0.2.1 80"))},
            {"at": 1, "call": snap(log, "rw.patterns", "rw.pattern0")},
            {"at": 2, "call": lambda r: r.write("rw.pattern0", "pattern 198.51.100.1 - - - 0 1")},
            {"at": 3, "data": tcp("10.0.0.1", 1111, "192.0.2.1", 80, flags="A")},
            {"at": 4, "call": snap(log, "rw.patterns")}]
    r, out = rewrite(nat(), 2, 2, pkts)
    assert log[0].strip() == "203.0.113.1 1111 192.0.2.1 80"
    assert log[1].strip() == ""
    assert log[2] == ("203.0.113.1 1024-65535 - - [1]\n<drop>\n", "203.0.113.1 1024-65535 - - [1]\n")
    # writing the pattern dropped the old flow: the next packet is mapped anew
    assert IP(out[1].data).src == "198.51.100.1"
    assert log[3] == ("198.51.100.1 - - - [1]\n<drop>\n",)


# --- bad input ---------------------------------------------------------------------------------

def test_malformed_packets_are_dropped_and_counted():
    good = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    bad = [good[:12],                                          # truncated IP header
           good[:19],
           bytes([0x65]) + good[1:],                          # IP version 6 with IPv4 body
           bytes([0x43]) + good[1:],                          # header length 12 bytes
           b"",
           ]
    r, out = rewrite(nat(), 2, 2, bad + [good])
    assert len(out) == 1 and IP(out[0].data)[UDP].sport == 1111
    assert r.find("rw").dropped == len(bad)
    assert r.read("rw.nmappings") == "1"


def test_checksum_and_length_are_not_checked_as_in_click():
    # Like Click's, IPRewriter trusts CheckIPHeader upstream: a bad checksum stays bad
    # (updated incrementally), an IP length past the data is left alone.
    good = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    badsum = good[:10] + bytes([good[10] ^ 0xFF, good[11]]) + good[12:]
    longer = good[:2] + (9999).to_bytes(2, "big") + good[4:]
    r, out = rewrite(nat(), 2, 2, [badsum, longer])
    assert len(out) == 2
    assert not checksums_ok(out[0].data)
    assert IP(out[1].data).len == 9999 and IP(out[1].data).src == "203.0.113.1"


def test_short_transport_headers_and_fragments_are_not_mapped():
    full = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    short_udp = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=17) / b"\x04\x57\x00")   # 3-byte UDP header
    short_tcp = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=6) / b"\x04\x57\x00\x50\x00")
    later_frag = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=17, frag=100) / (b"z" * 16))
    icmp_pkt = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=1) / (b"\x08" + bytes(15)))
    r, out = rewrite(nat(), 2, 2, [short_udp, short_tcp, later_frag, icmp_pkt, full])
    assert len(out) == 1
    assert r.read("rw.nmappings") == "1"
    # the truncated headers are errors; a later fragment or another protocol is not
    assert r.find("rw").dropped == 2
    # a 'pass' input passes them all, as Click's
    r, out = rewrite("IPRewriter(pass 1)", 1, 2, [short_udp, short_tcp, later_frag, icmp_pkt])
    assert [o.port for o in out] == [1, 1, 1, 1]
    assert r.find("rw").dropped == 0


def test_udp_zero_checksum_stays_zero():
    data = bytearray(udp("10.0.0.1", 1111, "8.8.8.8", 53))
    data[26:28] = b"\x00\x00"
    r, out = rewrite(nat(), 2, 2, [bytes(data)])
    assert IP(out[0].data)[UDP].chksum == 0
    assert checksums_ok(out[0].data)


def test_batch_path_gives_per_packet_results():
    # one input, so both runs see the same order; replies arrive on it too (the table comes first)
    pkts = [udp(f"10.0.0.{i % 7 + 1}", 1000 + i % 5, "8.8.8.8", 53) for i in range(100)]
    pkts += [{"at": 1, "data": udp("8.8.8.8", 53, "203.0.113.1", 1024 + i)} for i in range(10)]
    pkts += [{"at": 1, "data": b"\x45" + bytes(10)}]            # bogus, dropped in the middle of a batch
    pkts += [{"at": 1, "data": udp("10.0.0.1", 1000, "8.8.8.8", 53)} for i in range(10)]
    spec = "IPRewriter(pattern 203.0.113.1 1024-65535# - - 0 1)"
    from rewriter_helpers import make_feed, run_router
    results = []
    for burst in (1, 32):
        cfg = (f"f :: HarnessFeed({make_feed(pkts)}); rw :: {spec}; rec :: HarnessRecord;"
               f"f[0] -> Queue(1000) -> Unqueue(BURST {burst}) -> [0]rw;"
               "rw[0] -> [0]rec; rw[1] -> [1]rec;")
        r = run_router(cfg, 5)
        results.append([(o.port, o.data) for o in r.find("rec").log])
    assert results[0] == results[1]
    assert len(results[0]) == 120
    assert [p for p, _ in results[0]] == [0] * 100 + [1] * 10 + [0] * 10


def test_clear_empties_shared_flow_set_and_tables_work_after():
    from rewriter_helpers import make_feed, run_router
    log = []
    pkts = [udp("10.0.0.1", 2000, "8.8.8.8", 53), {"port": 1, "data": tcp("10.0.0.2", 2000, "8.8.8.8", 80, flags="S")},
            {"at": 1, "call": snap(log, "a.size", "a.nmappings", "b.nmappings")},
            {"at": 2, "call": lambda r: r.write("a.clear", "")},
            {"at": 3, "call": snap(log, "a.size", "a.nmappings", "b.nmappings", "a.udp_table", "b.tcp_table")},
            {"at": 4, "port": 2, "data": udp("8.8.8.8", 53, "203.0.113.1", 2000)},      # reply to a cleared flow
            {"at": 5, "data": udp("10.0.0.1", 2000, "8.8.8.8", 53)},                    # mapped anew
            {"at": 6, "port": 2, "data": udp("8.8.8.8", 53, "203.0.113.1", 2000)},
            {"at": 7, "call": snap(log, "a.size", "a.nmappings")}]
    cfg = (f"f :: HarnessFeed({make_feed(pkts)});"
           "a :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1, drop, MAPPING_CAPACITY 100);"
           "b :: IPRewriter(pattern 203.0.113.2 1024-65535 - - 0 1, MAPPING_CAPACITY a);"
           "rec :: HarnessRecord; f[0] -> [0]a; f[2] -> [1]a; f[1] -> b; a[0] -> [0]rec; a[1] -> [1]rec;"
           "b[0] -> [2]rec; b[1] -> [3]rec;")
    r = run_router(cfg, 10)
    assert log[0] == ("2", "1", "1")
    assert log[1] == ("0", "0", "0", "", "")
    assert log[2] == ("1", "1")
    out = r.find("rec").log
    assert [(o.port, IP(o.data).dst) for o in out] == [(0, "8.8.8.8"), (2, "8.8.8.8"), (0, "8.8.8.8"), (1, "10.0.0.1")]


def test_expiry_under_simtime_with_script_wait():
    # the same through 'clickpy run --simtime', a Script advancing simulated time
    data = udp("10.0.0.1", 1111, "8.8.8.8", 53).hex()
    cfg = (f"InfiniteSource(DATA \\<{data}>, LIMIT 1, STOP false) -> CheckIPHeader"
           " -> rw :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1, UDP_TIMEOUT 30, REAP_INTERVAL 1);"
           "rw[0] -> Discard; rw[1] -> Discard;"
           "Script(wait 10, print \"a $(rw.nmappings) $(rw.size)\", wait 30, print \"b $(rw.nmappings) $(rw.size)\", stop)")
    res = run_config(cfg, "--simtime")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["a 1 1", "b 0 0"]
