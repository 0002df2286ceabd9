"""IPEncap and UDPIPEncap: headers compared field by field with scapy's parse."""
import pytest
from harness import feed, run_router
from scapy.all import IP, UDP, Raw
from support import build_router, run_config

from clickpy.errors import ConfigError


def scapy_checksums(data):
    p = IP(data)
    q = p.copy()
    del q[IP].chksum
    if UDP in q:
        del q[UDP].chksum
    return p, IP(bytes(q))


@pytest.mark.parametrize("burst", [1, 32])
def test_ip_encap_fields_and_checksum(burst):
    payloads = [b"", b"a", b"hello" * 50]
    key = feed(payloads)
    r = run_router(f"HarnessFeed({key}) -> Queue(10) -> Unqueue(BURST {burst})"
                   " -> IPEncap(ipip, 18.26.4.24, 140.247.60.147, TTL 9, DSCP 10, ECT 2, DF true) -> rec :: HarnessRecord")
    log = r.element("rec").log
    for i, (x, payload) in enumerate(zip(log, payloads)):
        p, q = scapy_checksums(x.data)
        assert (p.version, p.ihl, p.proto, p.src, p.dst, p.ttl) == (4, 5, 4, "18.26.4.24", "140.247.60.147", 9)
        assert p.tos == (10 << 2) | 2 and p.flags == "DF" and p.frag == 0
        assert p.len == 20 + len(payload) and p.id == i
        assert p.chksum == q.chksum
        assert bytes(p.payload) == payload
        assert (x.net, x.transport, x.dst_ip) == (0, 20, "140.247.60.147")


def test_ip_encap_dst_anno_and_tos():
    key = feed([{"data": b"x" * 5, "dst": "9.9.9.9"}, {"data": b"y", "dst": "255.1.0.254"}])
    r = run_router(f"HarnessFeed({key}) -> e :: IPEncap(17, 1.1.1.1, DST_ANNO, TOS 0xff) -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert [IP(x.data).dst for x in log] == ["9.9.9.9", "255.1.0.254"]
    for x in log:
        p, q = scapy_checksums(x.data)
        assert p.chksum == q.chksum and p.tos == 0xFF and p.proto == 17
    assert r.read("e.src") == "1.1.1.1" and r.read("e.dst") == "DST_ANNO"
    r.write("e.dst", "3.3.3.3")
    assert r.read("e.dst") == "3.3.3.3"
    assert "3.3.3.3" in r.read("e.config")


def test_ip_encap_ce():
    key = feed([b"z"])
    r = run_router(f"HarnessFeed({key}) -> IPEncap(1, 1.1.1.1, 2.2.2.2, CE true) -> rec :: HarnessRecord")
    assert IP(r.element("rec").log[0].data).tos == 3


@pytest.mark.parametrize("args, message", [
    ("4, 1.1.1.1, nowhere", "DST argument should be IP address or 'DST_ANNO'"),
    ("4, 1.1.1.1, 2.2.2.2, TOS 1, DSCP 1", "cannot set both TOS and DSCP"),
    ("4, 1.1.1.1, 2.2.2.2, TOS 1, CE true", "cannot set both TOS and ECN bits"),
    ("4, 1.1.1.1, 2.2.2.2, TOS 256", "TOS too large; max 255"),
    ("4, 1.1.1.1, 2.2.2.2, DSCP 64", "DSCP too large; max 63"),
    ("4, 1.1.1.1, 2.2.2.2, ECT true, CE true", "can set at most one ECN option"),
    ("4, 1.1.1.1, 2.2.2.2, ECT 3", "bad ECT value '3'"),
    ("300, 1.1.1.1, 2.2.2.2", "PROTO"),
    ("4, 1.1.1.1", "DST"),
])
def test_ip_encap_errors(args, message):
    with pytest.raises(ConfigError) as e:
        build_router(f"Idle -> IPEncap({args}) -> Idle")
    assert message in str(e.value)


@pytest.mark.parametrize("burst", [1, 32])
def test_udp_ip_encap_matches_scapy(burst):
    payloads = [b"", b"odd", b"even", bytes(range(256)) * 3]
    key = feed(payloads)
    r = run_router(f"HarnessFeed({key}) -> Queue(10) -> Unqueue(BURST {burst})"
                   " -> UDPIPEncap(1.0.0.1, 1234, 2.0.0.2, dns) -> rec :: HarnessRecord")
    for i, (x, payload) in enumerate(zip(r.element("rec").log, payloads)):
        want = bytes(IP(src="1.0.0.1", dst="2.0.0.2", ttl=250, id=i) / UDP(sport=1234, dport=53) / Raw(payload))
        assert x.data == want
        assert (x.net, x.transport, x.dst_ip) == (0, 20, "2.0.0.2")


def test_udp_ip_encap_no_checksum_dst_anno_and_handlers():
    key = feed([{"data": b"abc", "dst": "7.7.7.7"}])
    r = run_router(f"HarnessFeed({key}) -> u :: UDPIPEncap(1.0.0.1, 1, DST_ANNO, 2, false) -> rec :: HarnessRecord")
    p = IP(r.element("rec").log[0].data)
    assert p.dst == "7.7.7.7" and p[UDP].chksum == 0
    p2, q2 = scapy_checksums(bytes(p))
    assert p2.chksum == q2.chksum
    assert [r.read(f"u.{h}") for h in ("src", "sport", "dst", "dport")] == ["1.0.0.1", "1", "0.0.0.0", "2"]
    r.write("u.sport", "ssh")
    assert r.read("u.sport") == "22"
    with pytest.raises(Exception):
        r.write("u.dport", "70000")
    assert r.read("u.dport") == "2"


def test_udp_ip_encap_port_names_from_port_info():
    r = run_config("InfiniteSource(LIMIT 1, STOP true) -> UDPIPEncap(1.0.0.1, foo, 1.0.0.2, 7)"
                   " -> Print(x, 28) -> Discard; PortInfo(foo 4242/udp)")
    assert r.returncode == 0, r.stderr
    assert "1092" in r.stderr.split("|")[1].replace(" ", "")[40:48]   # 4242 = 0x1092


@pytest.mark.parametrize("args", ["1.0.0.1, 1, bad, 2", "1.0.0.1, 70000, 2.0.0.2, 2", "1.0.0.1, nosuchport, 2.0.0.2, 2"])
def test_udp_ip_encap_errors(args):
    with pytest.raises(ConfigError):
        build_router(f"Idle -> UDPIPEncap({args}) -> Idle")
