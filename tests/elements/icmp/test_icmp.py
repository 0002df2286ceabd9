"""ICMPError, ICMPPingResponder and ICMPIPEncap against Click's behaviour, checked with scapy."""
import pytest
from harness import inject
from scapy.all import ICMP, IP, UDP, IPOption_LSRR, IPOption_RR, IPerror, Raw, UDPerror, checksum
from support import refused, run_config

from clickpy.runtime.packet import PacketObject

FIX_IP_SRC_ANNO_OFFSET = 19    # Click's FIX_IP_SRC annotation byte
ICMP_PARAMPROB_ANNO_OFFSET = 17


def ippkt(data, *, ts=None, dst_ip=None, ptype=None, anno=None):
    ip = IP(data)
    p = PacketObject.make(bytes(data), headroom=64)
    p.set_network_header(0, ip.ihl * 4 if len(data) >= 20 else len(data))
    if dst_ip is not None:
        p.dst_ip = dst_ip
    if ptype is not None:
        p.packet_type = ptype
    for off, value in (anno or {}).items():
        p.set_anno(off, value)
    return p


def udp(src="1.0.0.1", dst="2.0.0.2", payload=b"x" * 100, **kw):
    return bytes(IP(src=src, dst=dst, **kw) / UDP(sport=1000, dport=2000) / payload)


def valid_ip_checksum(raw):
    ihl = (raw[0] & 15) * 4
    return checksum(raw[:ihl]) == 0


def valid_icmp_checksum(raw):
    ihl = (raw[0] & 15) * 4
    return checksum(raw[ihl:]) == 0


# --- ICMPError -----------------------------------------------------------------------

TYPES = {"unreachable": 3, "sourcequench": 4, "redirect": 5, "timeexceeded": 11, "parameterproblem": 12}
CODES = [("unreachable", c, v) for c, v in (("net", 0), ("host", 1), ("protocol", 2), ("port", 3),
                                              ("needfrag", 4), ("srcroutefail", 5), ("netunknown", 6),
                                              ("hostunknown", 7), ("isolated", 8), ("netprohibited", 9),
                                              ("hostprohibited", 10), ("tosnet", 11), ("toshost", 12),
                                              ("filterprohibited", 13), ("hostprecedence", 14),
                                              ("precedencecutoff", 15))] + \
        [("redirect", c, v) for c, v in (("net", 0), ("host", 1), ("tosnet", 2), ("toshost", 3))] + \
        [("timeexceeded", c, v) for c, v in (("transit", 0), ("reassembly", 1))] + \
        [("parameterproblem", c, v) for c, v in (("erroratptr", 0), ("missingopt", 1), ("length", 2))] + \
        [("sourcequench", "0", 0), ("unreachable", "7", 7), ("3", "3", 3), ("11", "1", 1)]


@pytest.mark.parametrize("tname, cname, code", CODES)
def test_icmperror_every_type_and_code(tname, cname, code):
    original = udp(payload=b"y" * 40)
    r, rec = inject(f"ICMPError(18.26.4.24, {tname}, {cname})",
                    [ippkt(original, dst_ip="9.9.9.9",
                            anno={ICMP_PARAMPROB_ANNO_OFFSET: b"\x07"})])  # ICMP_PARAMPROB annotation byte
    assert len(rec.log) == 1
    out = rec.log[0].data
    pkt = IP(out)
    t = TYPES.get(tname, int(tname) if tname.isdigit() else None)
    assert pkt.src == "18.26.4.24" and pkt.dst == "1.0.0.1" and pkt.ttl == 200 and pkt.proto == 1
    assert pkt.len == len(out) == 20 + 8 + len(original)
    assert valid_ip_checksum(out) and valid_icmp_checksum(out)
    assert out[20] == t and out[21] == code
    assert out[28:] == original
    assert rec.log[0].dst_ip == "1.0.0.1"
    assert rec.log[0].anno[FIX_IP_SRC_ANNO_OFFSET] == 1
    if t == 5:
        assert out[24:28] == bytes([9, 9, 9, 9])        # the gateway: destination annotation


def test_icmperror_quote_limited_by_mtu_and_needfrag_pmtu():
    original = udp(payload=b"z" * 1000, flags="DF")
    r, rec = inject("ICMPError(1.1.1.1, unreachable, needfrag, PMTU 1400)", [ippkt(original)])
    out = rec.log[0].data
    assert len(out) == 576
    assert out[28:] == original[:576 - 28]
    assert int.from_bytes(out[26:28], "big") == 1400
    assert valid_icmp_checksum(out) and valid_ip_checksum(out)
    r, rec = inject("ICMPError(1.1.1.1, unreachable, needfrag, MTU 100)", [ippkt(original)])
    assert len(rec.log[0].data) == 100
    r.write("e.mtu", "60")
    r.write("e.pmtu", "1280")
    r.element("e").push_packet(0, ippkt(original))
    assert len(rec.log[1].data) == 60 and int.from_bytes(rec.log[1].data[26:28], "big") == 1280
    assert r.read("e.mtu") == "60" and r.read("e.pmtu") == "1280"


def test_icmperror_parameter_problem_pointer():
    r, rec = inject("ICMPError(1.1.1.1, parameterproblem)", [ippkt(udp(), anno={ICMP_PARAMPROB_ANNO_OFFSET: b"\x15"})])
    assert rec.log[0].data[24] == 0x15


def test_icmperror_set_fix_anno_false():
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded, SET_FIX_ANNO false)", [ippkt(udp())])
    assert rec.log[0].anno[FIX_IP_SRC_ANNO_OFFSET] == 0


@pytest.mark.parametrize("what, data, kw", [
    ("icmp error", bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=3, code=1) / (b"q" * 28)), {}),
    ("icmp redirect", bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=5) / (b"q" * 28)), {}),
    ("ip broadcast", udp(dst="255.255.255.255"), {}),
    ("ip multicast", udp(dst="224.0.0.5"), {}),
    ("bad address", udp(dst="2.0.0.255"), {}),
    ("link broadcast", udp(), {"ptype": 1}),
    ("link multicast", udp(), {"ptype": 2}),
    ("source net 0", udp(src="0.1.2.3"), {}),
    ("source loopback", udp(src="127.0.0.1"), {}),
    ("source class E", udp(src="240.0.0.1"), {}),
    ("source broadcast", udp(src="255.255.255.255"), {}),
    ("source multicast", udp(src="224.1.1.1"), {}),
    ("later fragment", udp(frag=10), {}),
])
def test_icmperror_no_error_for(what, data, kw):
    r, rec = inject("ICMPError(1.1.1.1, unreachable, host, 2.0.0.255 3.0.0.255)", [ippkt(data, **kw)])
    assert rec.log == [], what


def test_icmperror_answers_icmp_echo_and_first_fragment():
    echo = bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=8) / b"abc")
    first = udp(flags="MF")
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded)", [ippkt(echo), ippkt(first)])
    assert len(rec.log) == 2


def test_icmperror_source_route_reversed_and_no_redirect():
    pkt = IP(src="1.0.0.1", dst="2.0.0.2",
             options=[IPOption_LSRR(routers=["5.5.5.5", "6.6.6.6"], pointer=12)]) / UDP() / b"data"
    raw = bytes(pkt)
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded)", [ippkt(raw)])
    out = IP(rec.log[0].data)
    assert out.ihl == 7 or out.ihl == 8
    assert valid_ip_checksum(rec.log[0].data)
    lsrr = out.options[0]
    assert lsrr.option == 3 and lsrr.routers == ["6.6.6.6", "5.5.5.5"][:len(lsrr.routers)]
    r, rec = inject("ICMPError(1.1.1.1, redirect, host)", [ippkt(raw)])
    assert rec.log == []


def test_icmperror_ip_ids_count_up():
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded)", [ippkt(udp()) for _ in range(3)])
    ids = [IP(x.data).id for x in rec.log]
    assert ids[1] == ids[0] + 1 and ids[2] == ids[1] + 1


@pytest.mark.parametrize("n", range(0, 30))
def test_icmperror_truncated_never_crash(n):
    data = udp()[:n]
    p = PacketObject.make(data, headroom=64)
    p.set_network_header(0, min(n, 20))
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded)", [p, PacketObject.make(data)])
    assert len(rec.log) <= 1
    if rec.log:
        assert valid_icmp_checksum(rec.log[0].data) and rec.log[0].data[28:] == data


def test_icmperror_bad_configs():
    for conf in ("1.1.1.1", "bogus, timeexceeded", "1.1.1.1, echo", "1.1.1.1, 300",
                 "1.1.1.1, unreachable, bogus", "1.1.1.1, unreachable, 256", "1.1.1.1, nonsense"):
        out = run_config(f"Idle -> ICMPError({conf}) -> Discard", "-q")
        assert out.returncode != 0, conf
        assert "ICMPError" in out.stderr


def test_icmperror_src_handler():
    r, rec = inject("ICMPError(1.1.1.1, timeexceeded)", [])
    r.write("e.src", "7.7.7.7")
    assert r.read("e.src") == "7.7.7.7"
    r.element("e").push_packet(0, ippkt(udp()))
    assert IP(rec.log[0].data).src == "7.7.7.7"


# --- ICMPPingResponder -------------------------------------------------------------


def echo(payload=b"ping!", **kw):
    return bytes(IP(src="1.0.0.1", dst="2.0.0.2", ttl=5, flags="DF", **kw)
                 / ICMP(type=8, id=0x1234, seq=7) / payload)


@pytest.mark.parametrize("payload", [b"", b"a", b"ping payload " * 10, bytes(range(256)), b"\x00" * 3])
def test_ping_responder_reply_checksums(payload):
    r, rec = inject("ICMPPingResponder", [ippkt(echo(payload))], noutputs=1)
    out = rec.log[0].data
    rep = IP(out)
    assert rep.src == "2.0.0.2" and rep.dst == "1.0.0.1" and rep.ttl == 255 and rep.flags == 0
    assert rep.frag == 0
    assert rep[ICMP].type == 0 and rep[ICMP].code == 0
    assert rep[ICMP].id == 0x1234 and rep[ICMP].seq == 7 and bytes(rep[ICMP].payload) == payload
    # scapy recomputes both checksums from scratch: they must agree
    rebuilt = IP(out)
    del rebuilt.chksum
    del rebuilt[ICMP].chksum
    rebuilt = IP(bytes(rebuilt))
    assert rebuilt.chksum == rep.chksum and rebuilt[ICMP].chksum == rep[ICMP].chksum
    assert rec.log[0].dst_ip == "1.0.0.1" and rec.log[0].paint == 0


def test_ping_responder_all_zero_message_checksum():
    raw = bytearray(bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=8, id=0, seq=0)))
    r, rec = inject("ICMPPingResponder", [ippkt(bytes(raw))])
    assert valid_icmp_checksum(rec.log[0].data)


def test_ping_responder_others_to_output_1():
    others = [udp(), bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=0) / b"r"),
              bytes(IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=3) / (b"q" * 28))]
    r, rec = inject("ICMPPingResponder", [ippkt(x) for x in others] + [ippkt(echo())], noutputs=2)
    assert [x.port for x in rec.log] == [1, 1, 1, 0]
    assert [x.data for x in rec.log[:3]] == others


@pytest.mark.parametrize("n", range(0, 30))
def test_ping_responder_truncated(n):
    data = echo(b"")[:n]
    p = PacketObject.make(data, headroom=64)
    p.set_network_header(0, min(n, 20))
    r, rec = inject("ICMPPingResponder", [p, PacketObject.make(data)], noutputs=2)
    if n >= 28:
        assert [x.port for x in rec.log] == [0]
    assert all(x.port == 1 for x in rec.log if n < 28)


# --- ICMPIPEncap -------------------------------------------------------------------


def test_icmpipencap_echo_sequence_and_checksums():
    r, rec = inject("ICMPIPEncap(1.0.0.1, 2.0.0.2, echo, IDENTIFIER 77)",
                    [PacketObject.make(b"hello"), PacketObject.make(b"")])
    for i, x in enumerate(rec.log):
        pkt = IP(x.data)
        assert pkt.src == "1.0.0.1" and pkt.dst == "2.0.0.2" and pkt.proto == 1
        assert pkt.len == len(x.data)
        assert valid_ip_checksum(x.data) and valid_icmp_checksum(x.data)
        assert pkt[ICMP].type == 8 and pkt[ICMP].id == 77 and pkt[ICMP].seq == i + 1
        assert x.dst_ip == "2.0.0.2" and x.net == 0
    assert bytes(IP(rec.log[0].data)[ICMP].payload) == b"hello"


def test_icmpipencap_types_codes_and_handlers():
    r, rec = inject("ICMPIPEncap(1.0.0.1, 2.0.0.2, unreachable, port)", [PacketObject.make(b"abcd")])
    out = rec.log[0].data
    assert out[20] == 3 and out[21] == 3 and valid_icmp_checksum(out)
    r.write("e.dst", "3.3.3.3")
    r.write("e.src", "4.4.4.4")
    r.element("e").push_packet(0, PacketObject.make(b"abcd"))
    assert IP(rec.log[1].data).dst == "3.3.3.3" and IP(rec.log[1].data).src == "4.4.4.4"
    assert rec.log[1].dst_ip == "3.3.3.3"


def test_icmpipencap_bad_configs():
    for conf in ("1.0.0.1, 2.0.0.2", "1.0.0.1, bogus, echo", "1.0.0.1, 2.0.0.2, nonsense",
                 "1.0.0.1, 2.0.0.2, unreachable, bogus"):
        out = run_config(f"Idle -> ICMPIPEncap({conf}) -> Discard", "-q")
        assert refused(out, "ICMPIPEncap"), (conf, out.stderr)


def test_icmpipencap_timestamp_header_is_20_bytes():
    r, rec = inject("ICMPIPEncap(1.0.0.1, 2.0.0.2, timestamp, IDENTIFIER 9)", [PacketObject.make(b"ab")])
    out = rec.log[0].data
    assert len(out) == 20 + 20 + 2 and out[20] == 13
    assert out[24:26] == b"\x00\x09" and out[26:28] == b"\x00\x01"
    assert out[28:40] == b"\x00" * 12 and out[40:] == b"ab"
    assert valid_icmp_checksum(out) and IP(out).id == 1
