"""FixIPSrc, DropBroadcasts, IPGWOptions, StripIPHeader and UnstripIPHeader."""
import struct

import pytest
from harness import inject
from scapy.all import IP, UDP, Ether, IPOption_RR, checksum
from support import refused, run_config

from clickpy.runtime.packet import PacketObject

FIX_IP_SRC_ANNO_OFFSET = 19
ICMP_PARAMPROB_ANNO_OFFSET = 17
HOST, BROADCAST, MULTICAST, OTHERHOST = 0, 1, 2, 3


def ippkt(data, *, network=0, hlen=None, fix=False, ptype=None):
    p = PacketObject.make(bytes(data), headroom=64)
    if hlen is None:
        hlen = ((data[network] & 15) * 4) if len(data) > network else 0
    p.set_network_header(network, hlen)
    if fix:
        p.set_anno(FIX_IP_SRC_ANNO_OFFSET, b"\x01")
    if ptype is not None:
        p.packet_type = ptype
    return p


def udp(src="1.0.0.1", dst="2.0.0.2", payload=b"data", **kw):
    return bytes(IP(src=src, dst=dst, **kw) / UDP(sport=5, dport=6) / payload)


def ip_ok(raw, off=0):
    ihl = (raw[off] & 15) * 4
    return checksum(raw[off:off + ihl]) == 0


# --- FixIPSrc --------------------------------------------------------------------------


def test_fixipsrc_rewrites_only_annotated():
    r, rec = inject("FixIPSrc(9.8.7.6)", [ippkt(udp(), fix=True), ippkt(udp())])
    first, second = (IP(x.data) for x in rec.log)
    assert first.src == "9.8.7.6" and ip_ok(rec.log[0].data)
    assert rec.log[0].anno[FIX_IP_SRC_ANNO_OFFSET] == 0          # annotation cleared
    assert second.src == "1.0.0.1" and rec.log[1].data == udp()


@pytest.mark.parametrize("n", range(0, 24))
def test_fixipsrc_truncated(n):
    data = udp()[:n]
    r, rec = inject("FixIPSrc(9.8.7.6)", [ippkt(data, hlen=min(n, 20), fix=True),
                                          PacketObject.make(data)])
    assert len(rec.log) == (2 if n >= 20 else 1)


def test_fixipsrc_bad_config():
    assert refused(run_config("Idle -> FixIPSrc(bogus) -> Discard", "-q"), "FixIPSrc")
    assert refused(run_config("Idle -> FixIPSrc -> Discard", "-q"), "FixIPSrc")


# --- DropBroadcasts ------------------------------------------------------------------------


def test_dropbroadcasts(capfd):
    def pk():
        return [ippkt(udp(), ptype=t) for t in (HOST, BROADCAST, MULTICAST, OTHERHOST, BROADCAST)]
    r, rec = inject("DropBroadcasts", pk(), noutputs=2)
    assert [x.port for x in rec.log] == [0, 1, 1, 0, 1]
    assert r.read("e.drops") == "3"
    assert capfd.readouterr().err.count("DropBroadcasts: dropped a packet") == 1
    r, rec = inject("DropBroadcasts", pk())
    assert len(rec.log) == 2


# --- IPGWOptions ---------------------------------------------------------------------------


def opts(*options, payload=b"pay"):
    """An IP/UDP packet whose header carries options (scapy options, or raw bytes)."""
    if options and isinstance(options[0], bytes):
        raw_opts = b"".join(options)
        raw_opts += b"\x00" * (-len(raw_opts) % 4)
        body = bytes(UDP(sport=1, dport=2, len=8 + len(payload))) + payload
        hlen = 20 + len(raw_opts)
        hdr = bytearray(struct.pack(">BBHHHBBH4s4s", 0x40 | hlen // 4, 0, hlen + len(body), 1, 0, 64, 17, 0,
                                    bytes([1, 0, 0, 1]), bytes([2, 0, 0, 2])) + raw_opts)
        hdr[10:12] = struct.pack(">H", checksum(bytes(hdr)))
        return bytes(hdr) + body
    return bytes(IP(src="1.0.0.1", dst="2.0.0.2", options=list(options)) / UDP() / payload)


def test_ipgwoptions_no_options_untouched():
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(udp())])
    assert rec.log[0].data == udp()


def test_ipgwoptions_record_route():
    raw = opts(IPOption_RR(routers=["0.0.0.0", "0.0.0.0", "0.0.0.0"], pointer=4))
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)])
    out = rec.log[0].data
    rr = IP(out).options[0]
    assert rr.pointer == 8 and rr.routers[0] == "5.5.5.5" and ip_ok(out)
    # twice more fills it; then a full option passes untouched
    r.element("e").push_packet(0, ippkt(out))
    r.element("e").push_packet(0, ippkt(rec.log[1].data))
    full = rec.log[2].data
    assert IP(full).options[0].pointer == 16
    assert IP(full).options[0].routers == ["5.5.5.5"] * 3
    r.element("e").push_packet(0, ippkt(full))
    assert rec.log[3].data == full


def test_ipgwoptions_timestamp_flags():
    # flag 0: timestamps only; flag 1: address and timestamp; flag 3: prespecified
    raw0 = opts(b"\x44\x0c\x05\x00" + b"\x00" * 8)
    raw1 = opts(b"\x44\x0c\x05\x01" + b"\x00" * 8)
    raw3 = opts(b"\x44\x14\x05\x03" + bytes([6, 6, 6, 6]) + b"\x00" * 4
                + bytes([5, 5, 5, 5]) + b"\x00" * 4)
    out = run_config(
        f"InfiniteSource(DATA \\<{raw0.hex()}>, LIMIT 1, STOP true) -> CheckIPHeader"
        f" -> IPGWOptions(5.5.5.5) -> Print(a, 64) -> Discard;"
        f"InfiniteSource(DATA \\<{raw1.hex()}>, LIMIT 1) -> CheckIPHeader"
        f" -> IPGWOptions(5.5.5.5) -> Print(b, 64) -> Discard;"
        f"InfiniteSource(DATA \\<{raw3.hex()}>, LIMIT 1) -> CheckIPHeader"
        f" -> IPGWOptions(5.5.5.5, 6.6.6.6 7.7.7.7) -> Print(c, 64) -> Discard;",
        "--simtime")
    assert out.returncode == 0, out.stderr
    lines = {l.split(":")[0]: bytes.fromhex("".join(l.split("|")[1].split()))
             for l in out.stderr.splitlines() if "|" in l}
    a, b, c = lines["a"], lines["b"], lines["c"]
    assert a[22] == 9 and ip_ok(a)                         # pointer advanced by one stamp
    assert b[22] == 13 and b[24:28] == bytes([5, 5, 5, 5]) and ip_ok(b)
    assert c[22] == 13 and c[24:28] == bytes([6, 6, 6, 6]) and ip_ok(c)   # 6.6.6.6 is one of ours
    # Click's simulated time starts at 1e9 s: 1e9 mod 86400 = 6400 s -> 6,400,000 ms (+ a little)
    stamp = struct.unpack(">I", a[24:28])[0]
    assert 6_400_000 <= stamp < 6_500_000
    assert struct.unpack(">I", c[28:32])[0] == stamp


def test_ipgwoptions_timestamp_overflow_counter():
    raw = opts(b"\x44\x08\x09\x00" + b"\x00" * 4)       # full: overflow 0 -> 1
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)])
    assert rec.log[0].data[23] == 0x10 and ip_ok(rec.log[0].data)
    raw = opts(b"\x44\x08\x09\xf0" + b"\x00" * 4)       # overflow counter full: error
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)], noutputs=2)
    assert rec.log[0].port == 1 and rec.log[0].anno[ICMP_PARAMPROB_ANNO_OFFSET] == 23


@pytest.mark.parametrize("option, pointer", [
    (b"\x07\x01\x00\x00", 21),                   # length 1
    (b"\x07\x30\x04\x00", 21),                   # longer than the header
    (b"\x07\x07\x02" + b"\x00" * 5, 22),         # RR pointer too small
    (b"\x44\x08\x03\x00" + b"\x00" * 4, 22),     # TS pointer < 5
    (b"\x44\x0c\x05\x02" + b"\x00" * 8, 23),     # TS flag 2
])
def test_ipgwoptions_bad_options_to_port_1(option, pointer):
    raw = opts(option)
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)], noutputs=2)
    assert rec.log[0].port == 1
    assert rec.log[0].anno[ICMP_PARAMPROB_ANNO_OFFSET] == pointer
    assert r.read("e.drops") == "1"
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)], noutputs=1)
    assert rec.log == []


def test_ipgwoptions_other_options_skipped():
    raw = opts(b"\x01\x01\x94\x04\x00\x00\x00\x00")   # NOP NOP router-alert EOL
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw)], noutputs=2)
    assert rec.log[0].port == 0 and rec.log[0].data == raw


@pytest.mark.parametrize("n", range(0, 44, 2))
def test_ipgwoptions_truncated(n):
    raw = opts(IPOption_RR(routers=["0.0.0.0"] * 4, pointer=4))[:n]
    r, rec = inject("IPGWOptions(5.5.5.5)", [ippkt(raw, hlen=min(n, 20)), PacketObject.make(raw)],
                    noutputs=2)
    assert len(rec.log) <= 2


# --- StripIPHeader / UnstripIPHeader -----------------------------------------------------------


def test_strip_and_unstrip_ip_header():
    raw = opts(IPOption_RR(routers=["0.0.0.0"], pointer=4), payload=b"P")
    r, rec = inject("StripIPHeader", [ippkt(raw)])
    assert rec.log[0].data == raw[28:]
    r, rec = inject("StripIPHeader -> UnstripIPHeader", [ippkt(raw)])
    assert rec.log[0].data == raw
    eth = bytes(Ether()) + raw
    r, rec = inject("UnstripIPHeader", [ippkt(eth, network=14)])   # already before: unchanged
    assert rec.log[0].data == eth


def test_strip_unstrip_without_headers_dropped():
    r, rec = inject("StripIPHeader", [PacketObject.make(b"abc"), PacketObject.make(b"")])
    assert rec.log == []
    r, rec = inject("UnstripIPHeader", [PacketObject.make(b"abc")])
    assert rec.log == []
