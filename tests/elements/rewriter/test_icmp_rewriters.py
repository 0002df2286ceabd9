"""ICMPRewriter (ICMP errors about rewritten flows) and ICMPPingRewriter (echo NAT)."""
from harness import run_router
from rewriter_helpers import checksums_ok, icmp, make_feed, rewrite, snap, tcp, udp
from scapy.all import ICMP, IP, UDP, ICMPerror, IPerror, TCPerror, UDPerror, raw


def icmp_error(src, dst, quoted, type=11, code=0, keep=28):
    """An ICMP error from src to dst quoting the first `keep` bytes of packet `quoted`."""
    return raw(IP(src=src, dst=dst) / ICMP(type=type, code=code) / quoted[:keep])


def icmp_checksum_ok(data):
    pkt = IP(data)
    fixed = pkt.copy()
    del fixed[ICMP].chksum
    del fixed.chksum
    again = IP(raw(fixed))
    return again[ICMP].chksum == pkt[ICMP].chksum and again.chksum == pkt.chksum


NAT_CFG = """
f :: HarnessFeed({key});
rw :: IPRewriter(pattern 203.0.113.1 1024-65535# - - 0 1, drop);
ping :: ICMPPingRewriter(pattern 203.0.113.1 - 0-65535# 0 1, drop);
icmprw :: ICMPRewriter({maps});
rec :: HarnessRecord;
f[0] -> [0]rw; f[1] -> [1]rw; f[2] -> [0]ping; f[3] -> [1]ping; f[4] -> icmprw;
rw[0] -> [0]rec; rw[1] -> [1]rec; ping[0] -> [2]rec; ping[1] -> [3]rec;
icmprw[0] -> [4]rec; {extra}
"""


def nat_run(pkts, maps="rw ping", extra=""):
    r = run_router(NAT_CFG.format(key=make_feed(pkts), maps=maps, extra=extra), 10)
    return r, r.find("rec")


# --- ICMPRewriter -----------------------------------------------------------------------------------

def test_time_exceeded_about_udp_flow_goes_back_to_inside_host():
    out_pkt = udp("10.0.0.1", 1111, "8.8.8.8", 53, payload=b"q" * 20)
    # what left the NAT: 203.0.113.1:1024 -> 8.8.8.8:53
    seen_outside = udp("203.0.113.1", 1024, "8.8.8.8", 53, payload=b"q" * 20)
    err = icmp_error("192.0.2.254", "203.0.113.1", seen_outside, keep=48)
    r, rec = nat_run([out_pkt, {"at": 1, "port": 4, "data": err}])
    got = rec.on(4)
    assert len(got) == 1
    p = IP(got[0].data)
    assert p.src == "192.0.2.254" and p.dst == "10.0.0.1"
    assert got[0].dst_ip == "10.0.0.1"
    inner = p[IPerror]
    assert (inner.src, inner.dst) == ("10.0.0.1", "8.8.8.8")
    assert (p[UDPerror].sport, p[UDPerror].dport) == (1111, 53)
    assert icmp_checksum_ok(got[0].data)
    # the quoted IP header's checksum is right too
    q = IP(raw(p[IPerror]))
    del q.chksum
    assert IP(raw(q)).chksum == p[IPerror].chksum
    # the quoted UDP checksum matches the original packet's
    assert p[UDPerror].chksum == IP(out_pkt)[UDP].chksum


def test_unreachable_about_tcp_flow_with_short_quote():
    out_pkt = tcp("10.0.0.1", 2222, "192.0.2.1", 80, flags="S")
    seen_outside = tcp("203.0.113.1", 1024, "192.0.2.1", 80, flags="S")
    err = icmp_error("192.0.2.1", "203.0.113.1", seen_outside, type=3, code=3, keep=28)   # only 8 transport bytes
    r, rec = nat_run([out_pkt, {"at": 1, "port": 4, "data": err}])
    got = rec.on(4)
    assert len(got) == 1
    p = IP(got[0].data)
    assert p.dst == "10.0.0.1" and p[IPerror].src == "10.0.0.1"
    assert p[TCPerror].sport == 2222
    assert icmp_checksum_ok(got[0].data)


def test_error_about_ping_is_rewritten_by_icmp_ping_rewriter_map():
    req = icmp("10.0.0.1", "8.8.8.8", type=8, id=77, seq=1, payload=b"ping")
    r, rec = nat_run([{"port": 2, "data": req}])
    assert len(rec.on(2)) == 1
    new_id = IP(rec.on(2)[0].data)[ICMP].id
    seen_outside = icmp("203.0.113.1", "8.8.8.8", type=8, id=new_id, seq=1, payload=b"ping")
    err = icmp_error("192.0.2.254", "203.0.113.1", seen_outside, keep=28)
    r, rec = nat_run([{"port": 2, "data": req}, {"at": 1, "port": 4, "data": err}])
    got = rec.on(4)
    assert len(got) == 1
    p = IP(got[0].data)
    assert p.dst == "10.0.0.1" and p[IPerror].src == "10.0.0.1" and p[ICMPerror].id == 77
    assert icmp_checksum_ok(got[0].data)


def test_unknown_errors_non_errors_and_junk_are_dropped():
    seen_outside = udp("203.0.113.1", 4000, "8.8.8.8", 53)
    pkts = [{"port": 4, "data": icmp_error("192.0.2.254", "203.0.113.1", seen_outside)},        # no mapping
            {"port": 4, "data": icmp("8.8.8.8", "203.0.113.1", type=0)},                         # echo reply
            {"port": 4, "data": udp("8.8.8.8", 53, "203.0.113.1", 4000)},                       # not ICMP
            {"port": 4, "data": raw(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=11) / b"\x45\x00")},  # short quote
            {"port": 4, "data": raw(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=11) / (b"\x65" + bytes(27)))},
            {"port": 4, "data": b"\x45\x00"}]                                                   # bogus IP
    r, rec = nat_run(pkts)
    assert rec.on(4) == []
    assert r.find("icmprw").dropped == 1          # only the bogus IP header is an error


def test_port_offset_map_chooses_output_by_mapping_direction():
    out_pkt = udp("10.0.0.1", 1111, "8.8.8.8", 53)
    seen_outside = udp("203.0.113.1", 1024, "8.8.8.8", 53)
    # an error about the forward flow (sent toward the NAT's outside address)
    err_fwd = icmp_error("192.0.2.254", "203.0.113.1", seen_outside)
    # an error about a reply packet (8.8.8.8 -> 10.0.0.1 as the inside sees it)
    reply_inside = udp("8.8.8.8", 53, "10.0.0.1", 1111)
    err_rev = icmp_error("10.0.0.1", "8.8.8.8", reply_inside)
    cfg = NAT_CFG.replace("icmprw[0] -> [4]rec;", "icmprw[0] -> [4]rec; icmprw[1] -> [5]rec;")
    r = run_router(cfg.format(key=make_feed([out_pkt, {"at": 1, "port": 4, "data": err_fwd},
                                             {"at": 2, "port": 4, "data": err_rev}]),
                              maps="rw:0", extra=""), 10)
    rec = r.find("rec")
    # the forward entry's output is 0; the reply entry's output is 1
    assert [o.port for o in rec.log if o.port >= 4] == [5, 4]
    fwd = IP(rec.on(5)[0].data)
    assert fwd.dst == "10.0.0.1"
    rev = IP(rec.on(4)[0].data)
    # the quoted reply now reads as the outside saw it: 8.8.8.8:53 -> 203.0.113.1:1024
    assert (rev[IPerror].src, rev[IPerror].dst) == ("8.8.8.8", "203.0.113.1")
    assert (rev[UDPerror].sport, rev[UDPerror].dport) == (53, 1024)
    assert all(icmp_checksum_ok(o.data) for o in rec.log if o.port >= 4)


def test_icmp_rewriter_map_errors():
    from support import run_config
    res = run_config("InfiniteSource(LIMIT 1) -> ICMPRewriter(nosuch) -> Discard")
    assert res.returncode != 0 and "ICMPRewriter" in res.stderr
    res = run_config("c :: Counter; InfiniteSource(LIMIT 1) -> ICMPRewriter(c) -> c -> Discard")
    assert res.returncode != 0


# --- ICMPPingRewriter ------------------------------------------------------------------------------

def test_ping_request_and_reply_are_rewritten():
    reqs = [icmp("10.0.0.1", "8.8.8.8", type=8, id=77, seq=1, payload=b"abcd"),
            icmp("10.0.0.2", "8.8.8.8", type=8, id=77, seq=1, payload=b"abcd")]
    r, rec = nat_run([{"port": 2, "data": reqs[0]}, {"port": 2, "data": reqs[1]}])
    ids = [IP(o.data)[ICMP].id for o in rec.on(2)]
    assert [IP(o.data).src for o in rec.on(2)] == ["203.0.113.1"] * 2
    assert len(set(ids)) == 2
    assert all(checksums_ok(o.data) for o in rec.on(2))
    replies = [{"at": 1, "port": 3, "data": icmp("8.8.8.8", "203.0.113.1", type=0, id=i, seq=1, payload=b"abcd")}
               for i in ids]
    r, rec = nat_run([{"port": 2, "data": reqs[0]}, {"port": 2, "data": reqs[1]}] + replies)
    back = rec.on(3)
    assert [(IP(o.data).dst, IP(o.data)[ICMP].id, IP(o.data)[ICMP].type) for o in back] == [("10.0.0.1", 77, 0), ("10.0.0.2", 77, 0)]
    assert all(checksums_ok(o.data) for o in back)
    assert r.read("ping.nmappings") == "2"


def test_ping_unexpected_reply_and_non_echo_dropped():
    pkts = [{"port": 3, "data": icmp("8.8.8.8", "203.0.113.1", type=0, id=5)},
            {"port": 2, "data": icmp("10.0.0.1", "8.8.8.8", type=13)},           # timestamp request
            {"port": 2, "data": udp("10.0.0.1", 1, "8.8.8.8", 2)},
            {"port": 2, "data": raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=1) / b"\x08\x00")},   # short ICMP
            {"port": 2, "data": b"\x45"}]
    r, rec = nat_run(pkts)
    assert rec.on(2) == [] and rec.on(3) == []
    assert r.read("ping.nmappings") == "0"
    assert r.find("ping").dropped == 2            # the short ICMP header and the bogus IP header


def test_ping_pass_input_and_timeout():
    log = []
    pkts = [icmp("10.0.0.1", "8.8.8.8", type=8, id=1),
            {"port": 1, "data": icmp("8.8.8.8", "203.0.113.1", type=0, id=9)},
            {"at": 5, "call": snap(log, "rw.nmappings")},
            {"at": 40, "call": snap(log, "rw.nmappings")}]
    r, out = rewrite("ICMPPingRewriter(pattern 203.0.113.1 - 0-65535# 0 1, pass 1, TIMEOUT 20, REAP_INTERVAL 1)",
                     2, 2, pkts, seconds=50)
    assert [o.port for o in out] == [0, 1]
    assert IP(out[1].data).dst == "203.0.113.1" and IP(out[1].data)[ICMP].id == 9      # passed unchanged
    assert log == [("1",), ("0",)]


def test_ping_all_zero_checksum_case():
    # an echo whose rewritten checksum would be 0 is written as 0xFFFF only when the data is all zero
    r, out = rewrite("ICMPPingRewriter(keep 0 1)", 1, 2, [icmp("10.0.0.1", "8.8.8.8", type=8, id=0, seq=0)])
    assert checksums_ok(out[0].data)
