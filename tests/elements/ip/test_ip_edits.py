"""Header edits: DecIPTTL, SetIPChecksum, SetIPDSCP, MarkIPCE, Store/Get/SetIPAddress,
MarkIPHeader, StripToNetworkHeader. Checksums are checked with scapy."""
import pytest
from harness import feed, run_router
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw
from support import build_router, run_config

from clickpy.errors import ConfigError


def fresh(pkt):
    """The packet re-serialized with every checksum recomputed by scapy."""
    p = pkt.copy()
    for layer in (IP, TCP, UDP, ICMP):
        if layer in p:
            del p[layer].chksum
    return p.__class__(bytes(p))


def checksums_ok(data):
    p = IP(data)
    q = fresh(p)
    ok = p[IP].chksum == q[IP].chksum
    for layer in (TCP, UDP):
        if layer in p and not (layer is UDP and p[UDP].chksum == 0):
            ok = ok and p[layer].chksum == q[layer].chksum
    return ok


def udp(**kw):
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2", **kw) / UDP(sport=5, dport=6) / Raw(b"data" * 3))


def tcp(**kw):
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2", **kw) / TCP(sport=5, dport=6, flags="A") / Raw(b"x" * 7))


def marked(data, net=0):
    return {"data": data, "net": net}


# --- DecIPTTL ------------------------------------------------------------------------

@pytest.mark.parametrize("burst", [1, 32])
def test_dec_ip_ttl(burst):
    pkts = [udp(ttl=64), udp(ttl=2), udp(ttl=1), udp(ttl=0), tcp(ttl=255)]
    key = feed(marked(p) for p in pkts)
    r = run_router(f"HarnessFeed({key}) -> Queue(100) -> Unqueue(BURST {burst}) -> d :: DecIPTTL"
                   " -> [0] rec :: HarnessRecord; d[1] -> [1] rec")
    rec = r.element("rec")
    out = [IP(x.data) for x in rec.on(0)]
    assert [p.ttl for p in out] == [63, 1, 254]
    assert all(checksums_ok(x.data) for x in rec.on(0))
    assert [IP(x.data).ttl for x in rec.on(1)] == [1, 0]
    assert r.read("d.drops") == "2"


def test_dec_ip_ttl_incremental_checksum_over_all_values():
    # every TTL and a spread of checksums: the incremental update must equal a full one
    pkts = [udp(ttl=t, id=i * 257) for t in range(2, 256, 3) for i in range(0, 256, 37)]
    key = feed(marked(p) for p in pkts)
    r = run_router(f"HarnessFeed({key}) -> DecIPTTL -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert len(log) == len(pkts)
    assert all(checksums_ok(x.data) for x in log)


def test_dec_ip_ttl_active_multicast_and_no_header():
    key = feed([marked(udp(ttl=5)), marked(bytes(IP(dst="224.0.0.5", ttl=5) / UDP())), udp(ttl=5)])
    r = run_router(f"HarnessFeed({key}) -> d :: DecIPTTL(MULTICAST false) -> rec :: HarnessRecord")
    assert [IP(x.data).ttl for x in r.element("rec").log] == [4, 5]   # the unmarked packet is dropped
    key = feed([marked(udp(ttl=5))])
    r = run_router(f"HarnessFeed({key}) -> d :: DecIPTTL(ACTIVE false) -> rec :: HarnessRecord")
    assert IP(r.element("rec").log[0].data).ttl == 5
    assert r.read("d.active") == "false"
    r.write("d.active", "true")
    assert r.read("d.active") == "true"


# --- SetIPChecksum ---------------------------------------------------------------------

def test_set_ip_checksum():
    broken = bytearray(udp(ttl=9))
    broken[10:12] = b"\xde\xad"
    opts = bytearray(bytes(IP(options=b"\x01\x01\x01\x00") / UDP()))
    opts[10:12] = b"\0\0"
    key = feed([bytes(broken), bytes(Ether()) + bytes(opts), b"\x45\x00", bytes([0x4F]) + bytes(25)])
    r = run_router(f"HarnessFeed({key}) -> s :: SetIPChecksum -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert len(log) == 1 and checksums_ok(log[0].data)
    assert r.read("s.drops") == "3"      # the Ethernet frame has no header mark: 'IP' at byte 0 is bad
    key = feed([{"data": bytes(Ether()) + bytes(opts), "net": 14}])
    r = run_router(f"HarnessFeed({key}) -> s :: SetIPChecksum -> rec :: HarnessRecord")
    assert checksums_ok(r.element("rec").log[0].data[14:])


# --- SetIPDSCP and MarkIPCE -------------------------------------------------------------

def test_set_ip_dscp_keeps_ecn_and_fixes_checksum():
    key = feed(marked(udp(tos=t)) for t in (0, 3, 0xFF, 0x12))
    r = run_router(f"HarnessFeed({key}) -> s :: SetIPDSCP(46) -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert [IP(x.data).tos for x in log] == [46 << 2, (46 << 2) | 3, (46 << 2) | 3, (46 << 2) | 2]
    assert all(checksums_ok(x.data) for x in log)


def test_set_ip_dscp_handler_reconfigures():
    r = build_router("Idle -> s :: SetIPDSCP(DSCP 10) -> Idle")
    assert r.read("s.dscp") == "10"
    r.write("s.dscp", "2")
    assert r.read("s.dscp") == "2"
    with pytest.raises(Exception):
        r.write("s.dscp", "64")
    assert r.read("s.dscp") == "2"


def test_set_ip_dscp_range():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> SetIPDSCP(64) -> Idle")
    assert "diffserv code point out of range" in str(e.value)


def test_mark_ip_ce():
    pkts = [marked(udp(tos=t)) for t in (0, 1, 2, 3, 0xFC)]
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> m :: MarkIPCE -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert [IP(x.data).tos for x in log] == [3, 3, 3]
    assert r.read("m.drops") == "2"
    assert all(checksums_ok(x.data) for x in log)
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> MarkIPCE(true) -> rec :: HarnessRecord")
    assert [IP(x.data).tos for x in r.element("rec").log] == [3, 3, 3, 3, 0xFF]
    assert all(checksums_ok(x.data) for x in r.element("rec").log)


# --- StoreIPAddress, GetIPAddress, SetIPAddress --------------------------------------------

@pytest.mark.parametrize("which", ["src", "dst"])
def test_store_ip_address_in_header_updates_checksums(which):
    pkts = [marked(udp()), marked(tcp()), marked(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(chksum=0) / Raw(b"z"))),
            marked(bytes(IP(src="1.1.1.1", dst="2.2.2.2", flags="MF") / TCP() / Raw(b"y" * 8)))]
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> StoreIPAddress(192.168.77.254, {which}) -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert len(log) == 4
    for x in log:
        assert getattr(IP(x.data), which) == "192.168.77.254"
    assert checksums_ok(log[0].data) and checksums_ok(log[1].data)
    assert IP(log[2].data)[UDP].chksum == 0                      # no UDP checksum stays none
    assert fresh(IP(log[3].data))[IP].chksum == IP(log[3].data).chksum   # first fragment: TCP fixed too
    assert fresh(IP(log[3].data))[TCP].chksum == IP(log[3].data)[TCP].chksum


def test_store_ip_address_from_annotation_and_offsets():
    key = feed([{"data": bytes(8), "dst": "1.2.3.4"}, {"data": bytes(8)}, {"data": bytes(3), "dst": "1.2.3.4"}])
    r = run_router(f"HarnessFeed({key}) -> s :: StoreIPAddress(4) -> [0] rec :: HarnessRecord; s[1] -> [1] rec")
    rec = r.element("rec")
    assert [x.data for x in rec.on(0)] == [bytes(4) + bytes([1, 2, 3, 4])]
    assert [x.data for x in rec.on(1)] == [bytes(8), bytes(3)]     # zero annotation, too short
    key = feed([bytes(8)])
    r = run_router(f"HarnessFeed({key}) -> StoreIPAddress(0.0.0.0, 2) -> rec :: HarnessRecord")
    assert r.element("rec").log[0].data == bytes(8)
    key = feed([bytes(8)])
    r = run_router(f"HarnessFeed({key}) -> StoreIPAddress(9.8.7.6, dst) -> Discard")   # no IP header: dropped


def test_store_ip_address_bad_offset():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> StoreIPAddress(1.2.3.4, foo) -> Idle")
    assert "type mismatch: OFFSET requires integer" in str(e.value)


def test_get_ip_address():
    pkt = udp()
    key = feed([marked(pkt), marked(pkt), b"\x01\x02"])
    r = run_router(f"HarnessFeed({key}) -> g :: GetIPAddress(12) -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert [x.dst_ip for x in log] == ["10.0.0.1", "10.0.0.1"]     # the short packet is dropped
    key = feed([marked(pkt)])
    r = run_router(f"HarnessFeed({key}) -> GetIPAddress(IP dst) -> rec :: HarnessRecord")
    assert r.element("rec").log[0].dst_ip == "10.0.0.2"
    key = feed([pkt])
    r = run_router(f"HarnessFeed({key}) -> GetIPAddress(16, ANNO 20) -> rec :: HarnessRecord")
    assert r.element("rec").log[0].anno[20:24] == bytes([10, 0, 0, 2])
    for bad in ("GetIPAddress(12, IP src)", "GetIPAddress", "GetIPAddress(IP foo)", "GetIPAddress(0, 3)"):
        with pytest.raises(ConfigError):
            build_router(f"Idle -> {bad} -> Idle")


def test_set_ip_address():
    key = feed([b"x", b"y"])
    r = run_router(f"HarnessFeed({key}) -> s :: SetIPAddress(1.2.3.4) -> rec :: HarnessRecord")
    assert [x.dst_ip for x in r.element("rec").log] == ["1.2.3.4"] * 2
    assert r.read("s.addr") == "1.2.3.4"
    r.write("s.addr", "5.6.7.8")
    assert r.read("s.addr") == "5.6.7.8"
    with pytest.raises(Exception):
        r.write("s.addr", "nonsense")
    key = feed([b"x"])
    r = run_router(f"HarnessFeed({key}) -> SetIPAddress(1.2.3.4, ANNO AGGREGATE) -> rec :: HarnessRecord")
    assert r.element("rec").log[0].anno[20:24] == bytes([1, 2, 3, 4])


def test_ip_address_names_come_from_address_info():
    key = feed([b"x"])
    r = run_router(f"AddressInfo(gw 10.9.8.7); HarnessFeed({key}) -> SetIPAddress(gw) -> rec :: HarnessRecord")
    assert r.element("rec").log[0].dst_ip == "10.9.8.7"


# --- MarkIPHeader and StripToNetworkHeader -----------------------------------------------

def test_mark_ip_header_and_strip_to_network_header():
    ip = bytes(IP(options=b"\x01\x01\x01\x00") / UDP())
    frame = bytes(Ether()) + ip
    key = feed([frame, b"\x00" * 5])
    r = run_router(f"HarnessFeed({key}) -> MarkIPHeader(14) -> rec :: HarnessRecord")
    [x] = r.element("rec").log                 # the 5-byte packet has no header byte at 14
    assert (x.net, x.transport) == (14, 38)
    key = feed([frame])
    r = run_router(f"HarnessFeed({key}) -> MarkIPHeader(14) -> StripToNetworkHeader -> rec :: HarnessRecord")
    assert r.element("rec").log[0].data == ip
    # a header before the data start: the data start moves back to it
    r = run_config("InfiniteSource(DATA \\<" + frame.hex() + ">, LIMIT 1, STOP true) -> MarkIPHeader(14)"
                   " -> Strip(20) -> StripToNetworkHeader -> Print(x, 100) -> Discard")
    assert "x:   " + str(len(ip)) + " | " + ip[:4].hex() in r.stderr
    key = feed([frame])
    r = run_router(f"HarnessFeed({key}) -> StripToNetworkHeader -> rec :: HarnessRecord")   # no mark: dropped
    assert r.element("rec").log == []
